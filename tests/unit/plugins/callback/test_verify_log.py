# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the verify_log callback's pure helpers: redaction, secret values, chain, filtering, summary."""

import json
import os
import stat

import pytest

from ansible_collections.mt5crs.gpu_orchestrator.plugins.callback import verify_log as vl

import verify_log_check  # tools/ is on sys.path (tests/conftest.py)

SECRET = 'Sx9/k+Q2=abcdef'


@pytest.fixture
def key_re():
    return vl.secret_key_regex()


# ---- secret keys -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', [
    'secret_key', 'AWS_SECRET_ACCESS_KEY', 'aws_access_key_id', 'db-password', 'ansible_become_passwd', 'Authorization',
    'session_token', 'private_key', 'credentials', 'api-key', 'mt5crs_s3_secret_key', 'url_password',
])
def test_secret_looking_keys_match(key, key_re):
    assert vl.key_is_secret(key, key_re)


@pytest.mark.parametrize('key', ['md5', 'bucket', 'key', 'size', 'msg', 'stdout', 'driver_version', 'etag', 'pass'])
def test_plain_keys_do_not_match(key, key_re):
    assert not vl.key_is_secret(key, key_re)


def test_extra_patterns_are_added(key_re):
    custom = vl.secret_key_regex(['^vault_', r'_pin$'])
    assert vl.key_is_secret('vault_anything', custom)
    assert vl.key_is_secret('sim_pin', custom)
    assert not vl.key_is_secret('vault_anything', key_re)
    assert vl.key_is_secret('password', custom)


def test_invalid_extra_pattern_is_reported():
    with pytest.raises(ValueError, match=r"redact_patterns: not a valid regular expression: '\(unclosed'"):
        vl.secret_key_regex(['(unclosed'])


# ---- redaction -------------------------------------------------------------------------------------------------------

def test_redact_replaces_secret_keys_at_any_depth(key_re):
    data = {'outer': [{'inner': {'Password': 'p1', 'ok': 'visible'}}], 'token': {'nested': 'x'}, 'empty_secret': ''}
    out = vl.redact(data, key_re)
    assert out == {'outer': [{'inner': {'Password': vl.REDACTED, 'ok': 'visible'}}], 'token': vl.REDACTED,
                   'empty_secret': ''}
    assert data['outer'][0]['inner']['Password'] == 'p1'


def test_redact_scrubs_known_values_from_strings_and_keys(key_re):
    known = vl.SecretValues()
    known.add(SECRET)
    data = {'msg': 'login with %s failed' % SECRET, SECRET: 'as key', 'list': ['x%sy' % SECRET], 'n': 3, 'b': True}
    out = vl.redact(data, key_re, known)
    text = json.dumps(out)
    assert SECRET not in text
    assert out['msg'] == 'login with <redacted> failed'
    assert out['<redacted>'] == 'as key'
    assert out['n'] == 3 and out['b'] is True


def test_known_values_are_scrubbed_in_quoted_forms():
    known = vl.SecretValues()
    known.add(SECRET)
    url_quoted = 'Sx9%2Fk%2BQ2%3Dabcdef'
    assert known.scrub('url ?s=%s' % url_quoted) == 'url ?s=<redacted>'
    assert known.scrub(json.dumps({'a': 'q"' + SECRET})) == json.dumps({'a': 'q"<redacted>'})


def test_short_and_non_string_values_are_not_learned():
    known = vl.SecretValues()
    assert not known.add('abc')
    assert not known.add(123456789)
    assert not known.add(None)
    assert known.add('  long-enough  ')
    assert known.scrub('a long-enough b') == 'a <redacted> b'
    assert len(known) >= 1


def test_add_leaves_skips_registered_result_metadata():
    known = vl.SecretValues()
    known.add_leaves({'changed': False, 'rc': 0, 'start': '2026-01-01 00:00:00.000', 'stdout': 'the-secret-output',
                      'cmd': ['echo', 'the-secret-output']})
    assert known.scrub('the-secret-output') == vl.REDACTED
    assert known.scrub('2026-01-01 00:00:00.000') == '2026-01-01 00:00:00.000'


def test_collect_secret_values_resolves_only_secret_names(key_re):
    variables = {'db_password': '{{ vault_db }}', 'plain': 'not-a-secret-at-all', 'vault_db': 'resolved-pass',
                 'settings': {'api_token': 'nested-token-1'}, 'broken_secret': '{{ undefined }}',
                 'hostvars': {'h': {'password': 'from-hostvars'}}}

    def resolve(value):
        if value == '{{ vault_db }}':
            return variables['vault_db']
        if value == '{{ undefined }}':
            raise KeyError('undefined')
        return value

    known = vl.SecretValues()
    vl.collect_secret_values(variables, key_re, resolve, known)
    assert known.scrub('resolved-pass nested-token-1') == '<redacted> <redacted>'
    assert known.scrub('not-a-secret-at-all') == 'not-a-secret-at-all'
    assert known.scrub('from-hostvars') == 'from-hostvars'


# ---- phases and filtering --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('tags, role, phase', [
    (['evidence', 'fetch'], 'gpu_env', 'fetch'),
    ([], 'gpu_env', 'env'),
    (['always'], 'mt5crs.gpu_orchestrator.review_gate', 'review'),
    ([], 'dataset_publish', 'publish'),
    ([], 'gpu_smoke', 'smoke'),
    ([], 'somebody_else', None),
    (None, None, None),
])
def test_phase_of(tags, role, phase):
    assert vl.phase_of(tags, role) == phase


def test_filter_result_keeps_evidence_in_full():
    result = {'stdout': 'nvidia-smi output', 'stdout_lines': ['nvidia-smi output'], 'invocation': {'module_args': {}},
              '_ansible_no_log': False, 'diff': {'before': 'x'}, 'gpu_count': 2, 'gpus': [{'name': 'H100'}],
              'ansible_facts': {'gpu_probe': {'gpu_count': 2, 'gpus': [{'name': 'H100'}]}, 'other': {'a': 1}}}
    kept = vl.filter_result(result, evidence=True, status='ok')
    assert kept == {'stdout': 'nvidia-smi output', 'gpu_count': 2, 'gpus': [{'name': 'H100'}],
                    'ansible_facts': {'other': {'a': 1}}}


def test_filter_result_drops_bulk_of_plain_results():
    result = {'stdout': 'x' * 10, 'stderr': 'warning', 'rc': 0, 'msg': 'm' * (vl.MAX_TEXT + 10), 'cmd': ['a'],
              'ansible_facts': {'big': 1}, 'list': list(range(vl.MAX_ITEMS + 5))}
    ok = vl.filter_result(result, evidence=False, status='ok')
    assert set(ok) == {'rc', 'msg', 'list'}
    assert ok['msg'].endswith('...(10 more characters)')
    assert ok['list'][-1] == '...(5 more items)'
    failed = vl.filter_result(result, evidence=False, status='failed')
    assert failed['stderr'] == 'warning'


# ---- chain -----------------------------------------------------------------------------------------------------------

def write_log(path, records=4):
    writer = vl.ChainWriter(str(path), 'ab' * 32, sync=False)
    writer.write({'type': 'header', 'format': vl.FORMAT, 'run_id': 'r1', 'nonce': 'ab' * 32})
    for number in range(records):
        writer.write({'type': 'task', 'host': 'h%d' % number, 'status': 'ok', 'task': 'T%d' % number})
    writer.write({'type': 'footer', 'records': records, 'chain_head': writer.prev, 'verdict': 'passed'})
    writer.close()
    return path.read_text().splitlines()


def test_chain_writer_creates_private_file_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / 'run.jsonl'
    write_log(path)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    with pytest.raises(FileExistsError):
        vl.ChainWriter(str(path), 'cd' * 32)


def test_chain_round_trip(tmp_path):
    lines = write_log(tmp_path / 'run.jsonl')
    info = verify_log_check.check_lines(lines)
    assert info['complete'] and info['records'] == 4 and info['verdict'] == 'passed'
    assert info['head'] == vl.sha256_hex(lines[-1])
    assert json.loads(lines[0])['prev'] == vl.chain_origin('ab' * 32)
    assert [json.loads(line)['seq'] for line in lines] == list(range(6))


def forged(lines, position, record):
    """A line that an editor who knows the format would insert at `position` (correct prev, seq and hash)."""
    return vl.seal(record, position, vl.sha256_hex(lines[position - 1]))


@pytest.mark.parametrize('tamper, bad_line', [
    (lambda ls: ls[:2] + [ls[2].replace('"h1"', '"h7"')] + ls[3:], 3),
    (lambda ls: ls[:2] + [ls[2].replace('"ok"', '"ko"', 1)] + ls[3:], 3),
    (lambda ls: ls[:2] + ls[3:], 3),
    (lambda ls: ls[:2] + [ls[3], ls[2]] + ls[4:], 3),
    (lambda ls: ls[:3] + [ls[1]] + ls[3:], 4),
    (lambda ls: ls[:3] + [forged(ls, 3, {'type': 'task', 'host': 'h9', 'status': 'ok'})] + ls[3:], 5),
    (lambda ls: ls[:-2] + ls[-1:], 5),
    (lambda ls: [ls[0].replace('"r1"', '"r2"')] + ls[1:], 1),
    (lambda ls: ls + [ls[1]], 7),
])
def test_tampering_is_caught_at_the_first_bad_line(tmp_path, tamper, bad_line):
    lines = write_log(tmp_path / 'run.jsonl')
    with pytest.raises(verify_log_check.ChainError) as caught:
        verify_log_check.check_lines(tamper(list(lines)))
    assert caught.value.number == bad_line


def test_log_without_footer_is_intact_but_incomplete(tmp_path):
    lines = write_log(tmp_path / 'run.jsonl')[:-1]
    info = verify_log_check.check_lines(lines)
    assert not info['complete'] and info['records'] == 4


# ---- summary ---------------------------------------------------------------------------------------------------------

def task_record(host, phase, status, action='ansible.builtin.command', result=None, **extra):
    record = {'type': 'task', 'host': host, 'phase': phase, 'status': status, 'action': action, 'task': 'T',
              'result': result or {}}
    record.update(extra)
    return record


def test_summary_reports_phases_gpu_torch_and_dataset_match():
    summary = vl.Summary()
    probe = {'state': 'cuda_active', 'gpu_count': 2, 'driver_version': '550.54.15', 'cuda_driver_version': '12.4',
             'gpus': [{'name': 'NVIDIA H100 80GB HBM3'}, {'name': 'NVIDIA H100 80GB HBM3'}]}
    summary.add(task_record('gpu1', 'preflight', 'ok', 'mt5crs.gpu_orchestrator.gpu_probe', probe))
    summary.add(task_record('gpu1', 'env', 'changed', 'gpu_probe', dict(probe, torch={
        'version': '2.4.1+cu124', 'local_label': 'cu124', 'cuda': '12.4', 'cuda_available': True, 'device_count': 2})))
    summary.add(task_record('inf1', 'publish', 'changed', 'minio_object', {'md5': 'a' * 32}), ('put', 'data', 'k.pq'))
    summary.add(task_record('gpu1', 'fetch', 'ok', 'minio_object', {'md5': 'a' * 32}), ('get', 'data', 'k.pq'))
    summary.add(task_record('gpu1', 'smoke', 'ok', 'command', {'stdout': 'step 1\n\nloss 0.5\nsmoke ok'},
                            evidence=True))
    summary.add(task_record('gpu1', 'review', 'failed', result={'msg': 'ignored one'}, ignored=True))

    text = summary.render({'run_id': 'r', 'started': 's', 'playbooks': ['site.yml'], 'inventory': ['inv'],
                           'check_mode': False, 'ansible_core': '2.19', 'controller': {'user': 'u', 'host': 'h'},
                           'collection': {'name': 'c', 'version': '1'}},
                          {'verdict': 'passed', 'ended': 'e', 'duration': 1.0,
                           'stats': {'gpu1': {'ok': 5}, 'inf1': {'ok': 1}}}, '/logs/r.jsonl', 'f' * 64)
    assert 'Verdict      PASSED' in text
    assert 'GPU 2 x NVIDIA H100 80GB HBM3 (count 2), driver 550.54.15, CUDA 12.4' in text
    assert 'torch 2.4.1+cu124 (build cu124, CUDA 12.4), cuda available: yes' in text
    assert 's3://data/k.pq md5 INF %s / GPU %s (gpu1): MATCH' % ('a' * 32, 'a' * 32) in text
    assert 'INF and GPU sides MATCH' in text
    assert '> loss 0.5' in text and '> smoke ok' in text
    assert 'review     ok' in text
    assert 'FAILED' not in text
    assert summary.matches() is True


def test_summary_flags_a_mismatch_and_failures():
    summary = vl.Summary()
    summary.add(task_record('inf1', 'publish', 'changed', 'minio_object', {'md5': 'a' * 32}), ('put', 'b', 'k'))
    summary.add(task_record('gpu1', 'fetch', 'ok', 'minio_object', {'md5': 'b' * 32}), ('get', 'b', 'k'))
    summary.add(task_record('gpu2', 'preflight', 'unreachable', result={'msg': 'ssh refused'}))
    assert summary.matches() is False
    assert 'MISMATCH' in summary.dataset_lines()[0]
    short = summary.render_short({'run_id': 'r'}, {'verdict': 'failed'}, '/l.jsonl', 'f' * 64)
    assert short.splitlines()[0] == 'VERIFY LOG FAILED  run r'
    assert 'gpu2: preflight unreachable' in short
    assert 'dataset md5: MISMATCH' in short


def test_summary_compares_a_fetch_with_the_manifest_when_nothing_was_put():
    summary = vl.Summary()
    manifest = json.dumps({'md5': 'c' * 32, 'size': 10})
    summary.add(task_record('gpu1', 'fetch', 'ok', 'minio_object_info',
                            {'bucket': 'b', 'object': {'key': 'k.pq.manifest.json'}, 'content': manifest}))
    summary.add(task_record('gpu1', 'fetch', 'ok', 'minio_object', {'md5': 'c' * 32}), ('get', 'b', 'k.pq'))
    assert summary.dataset_lines() == ['s3://b/k.pq md5 manifest %s / GPU %s (gpu1): MATCH' % ('c' * 32, 'c' * 32)]
    assert summary.matches() is True
