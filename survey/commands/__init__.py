"""The `flask --app wsgi …` command groups, thin: each parses options, calls a domain function
with a session, commits once and prints. Nothing else lives here and nothing imports from here
but create_app.
"""
