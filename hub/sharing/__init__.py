"""The information-sharing register (issue 4, in progress): legal bases, share records and their
service; pages come next."""
