"""The staff wing: log-in, accounts, roles scoped to the unit tree, the audit trail, and the
staff blueprints (`/staff`). `scope` is the one place that decides what a user may do on
which unit; views declare it with `scope.require(...)` and never test roles themselves.
May import the shared base (db, models, i18n, errors, security, ratelimit) and the domain
packages it drives (registry, qr, catalog); nothing outside survey/staff imports from here
except create_app and the `users` CLI group.
"""
