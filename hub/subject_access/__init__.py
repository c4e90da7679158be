"""The subject access pack for a child: everything held and shared about them, for the data
protection officer, with third-party information marked for redaction review."""
