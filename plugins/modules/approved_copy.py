#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: approved_copy
short_description: Copy a file to managed hosts only when its SHA-256 holds a review approval
version_added: 0.1.0
description:
  - Computes the SHA-256 of O(src) on the controller, looks up the approvals ledger written by
    M(mt5crs.gpu_orchestrator.script_review), and copies the file with M(ansible.builtin.copy) only when the
    newest review entry for exactly that path and SHA-256 is an approval.
  - Otherwise the task fails before anything is transferred, with a message naming the file and the reason
    (C(no approval), C(changed since review), C(rejected), C(reviewer error), C(ledger unreadable)).
  - The bytes that were hashed are the bytes that are copied (they are staged on the controller first), so a
    change to the source during the task cannot reach the host.
  - Every other option of M(ansible.builtin.copy) (O(ansible.builtin.copy#module:mode), C(owner), C(group),
    C(backup), C(force), C(validate) ...) is passed through, except C(content) and C(remote_src=true), which
    are refused.
  - This is an action plugin; this file only documents it.
author:
  - mt5crs.gpu_orchestrator contributors (@mt5crs)
options:
  src:
    description:
      - Controller path of the file, looked up like M(ansible.builtin.copy) does (the role's C(files/) first).
      - The ledger is searched for its C(realpath).
    type: path
    required: true
  dest:
    description:
      - Path on the managed host, as for M(ansible.builtin.copy).
    type: path
    required: true
  ledger:
    description:
      - Controller path of the approvals ledger.
      - Defaults to the variable C(mt5crs_review_ledger), else C(logs/review/approvals.jsonl) beside the
        C(ansible.cfg) in use (the checkout root), else beside the playbook.
    type: path
  emergency_override:
    description:
      - Copy even without an approval. For emergencies only; off by default.
      - Defaults to the variable C(mt5crs_review_override), else V(false).
      - When the override is used, the task prints a warning, returns RV(review_override=true), and appends an
        C(override) entry to the ledger (which never counts as an approval). If that entry cannot be written,
        the copy is refused.
    type: bool
    default: false
attributes:
  action:
    description: Has a matching action plugin that does part of the work on the controller.
    support: full
  check_mode:
    description: Can run in check mode and report whether it would change something, without changing it.
    support: full
    details:
      - The approval is checked in check mode too; M(ansible.builtin.copy) then predicts the change.
  diff_mode:
    description: Reports the change as a diff when run with C(--diff).
    support: full
notes:
  - The ledger lives on the controller; the plugin reads it there, so C(delegate_to) is not needed.
seealso:
  - module: mt5crs.gpu_orchestrator.script_review
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Install the reviewed smoke-test script
  mt5crs.gpu_orchestrator.approved_copy:
    src: smoke_train.py
    dest: /opt/mt5crs/scripts/smoke_train.py
    mode: "0755"
    ledger: "{{ mt5crs_review_ledger }}"

- name: Install a hot fix without review (recorded, loud)
  mt5crs.gpu_orchestrator.approved_copy:
    src: hotfix.sh
    dest: /opt/mt5crs/scripts/hotfix.sh
    mode: "0755"
    emergency_override: true
"""

RETURN = r"""
review:
  description: What the review gate decided for this copy.
  returned: always
  type: dict
  contains:
    path:
      description: Resolved controller path of the source.
      type: str
      sample: /work/main/roles/gpu_smoke/files/smoke_train.py
    sha256:
      description: SHA-256 of the bytes that were checked (and copied).
      type: str
      sample: 9f2c0d4e8a1b3c5d7e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f
    ledger:
      description: Ledger that was consulted.
      type: str
      sample: /work/main/logs/review/approvals.jsonl
    status:
      description:
        - C(approved), C(no approval), C(changed since review), C(rejected), C(reviewer error) or C(ledger unreadable).
      type: str
      sample: approved
    detail:
      description: One line explaining the status.
      type: str
      sample: approved by static at 2026-12-04T15:50:01.123456Z
    reviewer:
      description: Reviewer of the decisive entry, if any.
      type: str
      sample: static
    session_id:
      description: Reviewer session id of the decisive entry, if any.
      type: str
      sample: chatcmpl-abc123
    reviewed_at:
      description: Time of the decisive entry, if any.
      type: str
      sample: "2026-12-04T15:50:01.123456Z"
    override:
      description: Whether the emergency override let an unapproved file through.
      type: bool
      sample: false
review_override:
  description: True when the emergency override was used (the copy happened without an approval).
  returned: always
  type: bool
  sample: false
dest:
  description: Destination path, and every other key that M(ansible.builtin.copy) returns.
  returned: success
  type: str
  sample: /opt/mt5crs/scripts/smoke_train.py
"""
