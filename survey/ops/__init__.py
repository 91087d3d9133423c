"""Running the service: backup and restore (`backup`), the health endpoint (`health`), synthetic
demo data (`demo`). May import the shared base and the domain packages; nothing imports it but
create_app and the CLI.
"""
