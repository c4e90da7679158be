"""MACE (multi-agency child exploitation) locality groups.

Only the groups, their member agencies and the children on their agendas exist so far: the
permission module needs them to answer "does this user's MACE group hold this child". Meetings,
intelligence, actions and outcomes come with the MACE issue.
"""
