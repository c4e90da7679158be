"""The information-sharing register (issue 4, in progress): legal bases so far."""
