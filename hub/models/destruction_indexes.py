"""Indexes that destroying a record needs: every column that points at a share, an episode or a
child and that destruction deletes or clears by (hub.retention.destruction, .shredding).

Without them each deleted share or child made the database scan the pointing tables whole (the
statement's own WHERE, and the foreign key check of the DELETE), so destroying N records took time
growing with N squared: 25 s for 1,000 children's records, against 3 s for plain DELETEs of the same
rows (bench/retention.py). Declared here, beside the tables, so that the migrations still match the
models index for index.
"""

from sqlalchemy import Index

from hub.models.mace import MaceAction, MaceLink, MaceOutcome
from hub.models.missing import ImportReviewItem, MissingEpisode, ProfileRelease
from hub.models.notifications import NotificationReply
from hub.models.people import BreakGlassGrant
from hub.models.sharing import ShareAccess, ShareDraftRecord, ShareRecord

#: (model, column name): each gets `ix_<table>_<column>`.
POINTERS = [
    (ShareRecord, "origin_share_id"), (ShareAccess, "share_id"), (MissingEpisode, "return_interview_share_id"),
    (MaceLink, "share_id"), (NotificationReply, "share_id"), (ProfileRelease, "share_id"),
    (ImportReviewItem, "child_id"), (ImportReviewItem, "episode_id"), (BreakGlassGrant, "child_id"),
    (ShareDraftRecord, "child_id"), (MaceOutcome, "child_id"), (MaceAction, "child_id"),
]

for _model, _column in POINTERS:
    Index(f"ix_{_model.__table__.name}_{_column}", _model.__table__.c[_column])
