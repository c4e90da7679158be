"""The JSON API for agency systems: OAuth2 client credentials, episodes, OpenAPI document."""
