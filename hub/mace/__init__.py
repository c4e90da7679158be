"""MACE (multi-agency child exploitation) locality groups.

`service.py` (groups, membership and the helpers every area shares) stands at the top (the
tables are hub/models/mace.py); `operations/` holds one service module per area (meetings, agenda, proposals, actions,
outcomes, subjects, intelligence, network, exports, mine); `views/` holds one thin blueprint per
area (`mace`, `mace_meetings`, `mace_subjects`, `mace_actions`, all under `/mace`) and `forms/`
their forms; `demo.py` seeds the demonstration data.
"""
