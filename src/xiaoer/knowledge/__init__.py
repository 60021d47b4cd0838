"""The script library (话术库): answer scripts with their customer question variants.

Public: `service.list_published`, `list_scripts`, `create_script`, `update_script`,
`publish_script`, `unpublish_script`, `delete_script`, `access_script`, `library_version`,
`answer_variables`, `KNOWN_VARIABLES`. Every change is audited with before/after.
"""
