"""Missing episodes: risk, prevention checks, return home interviews, trigger plans, Philomena
profiles and the police daily download."""
