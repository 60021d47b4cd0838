"""The script library (话术库): answer scripts with their question variants, channel wordings,
trigger conditions, versions and usage statistics.

Public: `service` (create/update/submit/publish/unpublish/delete, `access_script`), `library`
(what is served: `list_published`, `library_version`, `PublishedScript.choose`), `versions`
(history, diff, rollback), `compliance` (the lint), `categories` (the category tree).
Every change is audited with before/after.
"""
