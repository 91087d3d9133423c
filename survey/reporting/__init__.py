"""From stored responses to the figures people read: maintained counts and response signatures
(`counts`, `signatures`), the one adapter to `analysis/` (`selection` resolves what is asked,
`standard` the report, `breakdowns` ad-hoc cross-tabs, `exclusions` what was left out), plan
targets in the database (`targets`) and bulk response imports (`response_imports`). May import
`analysis`, `questionnaires`, the shared base and citizen's quality rules; never a view.
"""
