"""Each account's contacts, lists and custom fields; import and export."""
