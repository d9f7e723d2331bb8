"""Financial statements over time from stored inline-XBRL facts."""
