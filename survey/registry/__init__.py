"""The unit tree, fields, procedures and counters (`units`, `counters`) and their bulk imports
from spreadsheets and the official list of units (`imports`). Reference data the rest of the app
reads; it imports only the shared base (models, catalog, sheets, i18n), never another package.
"""
