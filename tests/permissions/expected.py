"""The access table the tests hold the rules to: for each user of the compact world
(tests/permissions/world.py), what they reach and how. A table, not a test module, so the test
modules that ask it different questions share it without importing one another."""

EVERYONE = ["dsl_a", "deputy_a", "dsl_b", "dsl_c", "edu", "sw_h", "sw_p", "off1", "off2", "nurse", "nurse2", "glass",
            "dpo_a", "dpo_f1", "dpo_h", "hub_dpo", "admin", "analyst", "chair", "member", "former", "mace_only"]
CHILDREN = ["roll_a", "left_a", "roll_c", "involved", "episode", "sent", "decided", "mace", "intel", "glass"]
NHS = {"involved": "agency-involvement", "sent": "share-sent", "decided": "share-sent"}
#: Force 1 received the Philomena profile release about the child on roll at school A (a share),
#: and holds the reports about it and the intelligence child.
F1 = {"roll_a": "share-received", "intel": "missing-episode", "sent": "share-received"}

#: user -> {child: the basis of access}; a child not named is refused.
CHILD_ACCESS: dict[str, dict[str, str]] = {
    "dsl_a": {"roll_a": "enrolment"},
    "deputy_a": {"roll_a": "enrolment"},
    "dsl_b": {},
    "dsl_c": {"roll_c": "enrolment"},
    "edu": {"roll_a": "la-education"},
    "sw_h": {"roll_a": "responsible-authority", "episode": "episode-authority"},
    "sw_p": {"roll_a": "placing-authority", "left_a": "responsible-authority", "episode": "episode-authority"},
    "off1": F1,
    "off2": {"episode": "missing-episode", "roll_a": "missing-episode"},
    "nurse": NHS,
    "nurse2": NHS,
    "glass": {**NHS, "glass": "break-glass"},
    "dpo_a": {"roll_a": "role:dpo"},
    "dpo_f1": {"roll_a": "role:dpo", "intel": "role:dpo", "sent": "role:dpo", "mace": "role:dpo"},
    "dpo_h": {"roll_a": "role:dpo", "episode": "role:dpo", "mace": "role:dpo"},
    "hub_dpo": dict.fromkeys(CHILDREN, "role:dpo"),
    "admin": dict.fromkeys(CHILDREN, "role:hub-admin"),
    "analyst": {},
    # The chair's authority sent the profile release: share-sent comes before the group's hold.
    "chair": {"mace": "mace-member", "roll_a": "share-sent"},
    "member": {**F1, "mace": "mace-member"},
    "former": F1,
    "mace_only": {"sent": "share-received", "mace": "mace-member", "roll_a": "share-received"},
}
#: share -> who sees it whole; REGISTER_FACTS: who sees only the fact of it in their register.
SHARES = {
    "sent": {"nurse", "nurse2", "glass", "off1", "member", "former", "dpo_f1", "mace_only"},
    "decided": {"nurse", "nurse2", "glass"},
    "intel": {"member", "chair", "mace_only"},
}
REGISTER_FACTS = {"intel": {"off1", "former", "dpo_f1"}}
#: episode -> who reads it (CHANGE: the same without the hub's DPO).
EPISODES = {
    "episode": {"off2", "sw_h", "sw_p", "hub_dpo"},
    "intel": {"off1", "member", "former", "hub_dpo"},
    "roll_a": {"off1", "member", "former", "sw_h", "sw_p", "hub_dpo", "off2"},
    "roll_a_f2": {"off1", "member", "former", "sw_h", "sw_p", "hub_dpo", "off2"},
}
#: notification (whose copy) -> who opens it.
NOTIFICATIONS = {"dsl_a": {"dsl_a", "deputy_a"}, "deputy_a": {"dsl_a", "deputy_a"}}
DOWNLOADS = {"off1", "member", "former", "admin"}
GROUP = {"chair", "member", "mace_only"}
PHOTO = {"sw_h", "sw_p", "hub_dpo", "off1", "member", "former", "mace_only"}

POLICE = {"off1", "off2", "member", "former"}
SCHOOLS = {"dsl_a", "deputy_a", "dsl_b", "dsl_c", "edu"}
SOCIAL = {"sw_h", "sw_p"}
NURSES = {"nurse", "nurse2", "glass"}
DPOS = {"dpo_a", "dpo_f1", "dpo_h", "hub_dpo"}
SHARERS = SCHOOLS | SOCIAL | POLICE | NURSES | {"chair", "mace_only"}

#: capability -> who has it.
CAPABILITIES = {
    "administer": {"admin"},
    "review_audit_log": DPOS,
    "check_audit_integrity": DPOS | {"admin"},
    "read_notifications": SCHOOLS,
    "record_episodes": SOCIAL | POLICE,
    "import_downloads": POLICE | {"admin"},
    "police_officer": POLICE,
    "search_children": SHARERS | DPOS | {"admin"},
    "share": SHARERS,
    "record_school_closure": {"dsl_a", "dsl_b", "dsl_c"},
    "hub_dpo": {"hub_dpo"},
    # The statutory returns: an authority's social workers; never its DPO, chair or other staff.
    "export_returns": SOCIAL,
    # Retention: every DPO, for their own organisation's records (hub/permissions/retention.py).
    "keep_retention": DPOS,
}

#: An organisation's DPO may prepare a pack for exactly the children their organisation holds.
SUBJECT_ACCESS = {"dpo_a": {"roll_a"}, "dpo_f1": {"roll_a", "intel", "sent", "mace"},
                  "dpo_h": {"roll_a", "episode", "mace"}, "hub_dpo": set(CHILDREN)}
