# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real ansible-playbook runs with the verify_log callback on: records, secrets, tamper evidence, files."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from conftest import ROOT, ansible_env, run_playbook, venv_bin

TARGETS = os.path.join(ROOT, 'tests', 'integration', 'targets', 'verify_log')
CHECKER = os.path.join(ROOT, 'tools', 'verify_log_check.py')

SECRETS = {
    'vl_db_password': 'S1-dbpass-Zq9x',
    'vl_plain_secret': 'S2-plain-Kk3m',
    'vl_token_value': 'S4-token-Pp7w',
    'vl_uri_password': 'S5-uri-Rr2e',
}
ITEM_SECRET = 'S3-item-Hh8t'
ALL_SECRETS = list(SECRETS.values()) + [ITEM_SECRET]

pytestmark = pytest.mark.slow


def write_inventory(directory, unreachable=True):
    lines = ['[lab]', 'localhost ansible_connection=local ansible_python_interpreter=%s' % sys.executable]
    if unreachable:
        # Loopback port 1: refused at once, so the host is unreachable without any traffic leaving the machine.
        lines.append('ghost ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh')
    path = directory / 'inventory.ini'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def read_log(log_dir):
    logs = sorted(log_dir.glob('*.jsonl'))
    assert len(logs) == 1, logs
    lines = logs[0].read_text().splitlines()
    return logs[0], [json.loads(line) for line in lines]


def check(path, *extra):
    return subprocess.run([sys.executable, CHECKER] + list(extra) + [str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)


@pytest.fixture(scope='module', params=['', '-vvvv'], ids=['quiet', 'vvvv'])
def mixed_run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('vl-mixed')
    extra = dict(SECRETS, vl_fail_at_end=True,
                 vl_items=[{'value': 'public-one', 'hide': False}, {'value': ITEM_SECRET, 'hide': True}])
    args = [request.param] if request.param else []
    proc = run_playbook(tmp, os.path.join(TARGETS, 'mixed.yml'), write_inventory(tmp), extra_vars=extra,
                        args=args, check=False)
    path, records = read_log(tmp / 'verify')
    return {'proc': proc, 'path': path, 'records': records, 'dir': tmp / 'verify'}


def tasks(records, name, host='localhost'):
    return [r for r in records if r['type'] == 'task' and r['task'] == name and r['host'] == host]


def test_header_and_footer(mixed_run):
    records = mixed_run['records']
    header, footer = records[0], records[-1]
    assert mixed_run['proc'].returncode != 0
    assert header['type'] == 'header' and header['format'] == 'mt5crs.verify_log/1'
    assert header['collection'] == {'name': 'mt5crs.gpu_orchestrator', 'version': header['collection']['version']}
    assert header['collection']['version'] != 'unknown'
    assert header['playbooks'] == [os.path.join(TARGETS, 'mixed.yml')]
    assert header['inventory'][0].endswith('inventory.ini')
    assert header['check_mode'] is False and header['ansible_core'].startswith('2.')
    assert len(header['nonce']) == 64 and mixed_run['path'].name == header['run_id'] + '.jsonl'
    assert footer['type'] == 'footer' and footer['verdict'] == 'failed'
    assert footer['stats']['ghost']['unreachable'] == 1
    assert footer['stats']['localhost']['failures'] == 1
    assert footer['records'] == len(records) - 2


def test_records_cover_every_status(mixed_run):
    records = mixed_run['records']
    plain = tasks(records, 'Report a plain message')[0]
    assert plain['status'] == 'ok' and plain['phase'] == 'preflight' and plain['result']['msg'] == 'plain message'
    assert plain['play'] == 'Exercise results of every kind' and plain['role'] is None
    assert plain['action'] == 'ansible.builtin.debug' and plain['duration'] >= 0 and plain['start'] <= plain['end']

    assert tasks(records, 'Print something that is not evidence')[0]['status'] == 'changed'
    assert tasks(records, 'Skip a task')[0]['status'] == 'skipped'
    ignored = tasks(records, 'Fail with a message that names a secret')[0]
    assert ignored['status'] == 'failed' and ignored['ignored'] is True and ignored['phase'] == 'fetch'
    final = tasks(records, 'Fail for real')[0]
    assert final['status'] == 'failed' and 'ignored' not in final

    ghost = tasks(records, 'Print a listing as evidence', host='ghost')[0]
    assert ghost['status'] == 'unreachable' and 'Connection refused' in ghost['result']['msg']


def test_evidence_is_kept_and_bulk_dropped(mixed_run):
    records = mixed_run['records']
    evidence = tasks(records, 'Print a listing as evidence')[0]
    assert evidence['evidence'] is True and evidence['result']['stdout'] == 'evidence-line-one'
    plain = tasks(records, 'Print something that is not evidence')[0]
    assert plain['evidence'] is False and 'stdout' not in plain['result']
    assert 'bulky-output-not-kept' not in mixed_run['path'].read_text()
    for record in records:
        if record['type'] == 'task':
            assert 'invocation' not in record.get('result', {})
            assert not any(key.startswith('_ansible') for key in record.get('result', {}))


def test_loops_record_each_item_and_the_task(mixed_run):
    records = mixed_run['records']
    looped = tasks(records, 'Loop with items')
    assert [(r['item'], r['status']) for r in looped] == [('one', 'ok'), ('two', 'changed'), (None, 'changed')]
    assert looped[-1]['items'] == {'ok': 1, 'changed': 1} and looped[-1]['phase'] == 'smoke'

    per_item = tasks(records, 'Loop with per-item no_log')
    assert per_item[0]['item'] == {'hide': False, 'value': 'public-one'}
    assert per_item[1]['hidden'] is True and per_item[1]['item'] == '(hidden by no_log)'
    assert 'result' not in per_item[1]


def test_no_log_keeps_only_the_status(mixed_run):
    hidden = tasks(mixed_run['records'], 'Use a secret in a no_log task')[0]
    assert hidden['hidden'] is True and hidden['status'] == 'ok'
    assert hidden['note'] == 'output hidden by no_log' and 'result' not in hidden


def test_secret_keys_and_values_are_redacted(mixed_run):
    records = mixed_run['records']
    assert tasks(records, 'Show the secret-looking fact')[0]['result']['vl_service_token'] == '<redacted>'
    assert tasks(records, 'Put the secret into a plain message')[0]['result']['msg'] == 'token is <redacted>'
    assert tasks(records, 'Echo the secret as evidence')[0]['result']['stdout'] == 'token=<redacted>'
    assert tasks(records, 'Show the registered structure')[0]['result']['vl_registered'] == {
        'password': '<redacted>', 'user': 'alice'}
    failed = tasks(records, 'Fail with a message that names a secret')[0]
    assert failed['result']['msg'] == 'login failed for <redacted>'
    assert tasks(records, 'Call a module with a no_log option')[0]['status'] == 'failed'


def test_no_secret_anywhere_in_the_files_or_the_printed_summary(mixed_run):
    files = sorted(mixed_run['dir'].iterdir())
    assert [f.suffix for f in files] == ['.jsonl', '.txt']
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        for secret in ALL_SECRETS:
            assert secret not in text, (secret, path.name)
    printed = mixed_run['proc'].stdout
    block = printed[printed.index('VERIFY LOG FAILED'):]
    assert str(mixed_run['path']) in block
    for secret in ALL_SECRETS:
        assert secret not in block


def test_summary_file(mixed_run):
    summary = mixed_run['path'].with_name(mixed_run['records'][0]['run_id'] + '.summary.txt').read_text()
    assert 'Verdict      FAILED' in summary
    assert 'Host ghost' in summary and 'preflight  unreachable' in summary
    assert 'FAILED     Fail for real: final failure with <redacted>' in summary
    assert 'smoke      changed' in summary


def test_real_log_checks_clean(mixed_run):
    proc = check(mixed_run['path'])
    assert proc.returncode == 0, proc.stderr
    assert 'OK run %s' % mixed_run['records'][0]['run_id'] in proc.stdout
    head = proc.stdout.split('chain head ')[1].strip()
    assert 'chain head %s' % head in mixed_run['proc'].stdout
    assert check(mixed_run['path'], '--head', head).returncode == 0
    assert check(mixed_run['path'], '--head', '0' * 64).returncode == 1


def edit_byte(lines):
    line = lines[5]
    index = line.index('"status":"') + len('"status":"')
    lines[5] = line[:index] + ('X' if line[index] != 'X' else 'Y') + line[index + 1:]
    return lines, 6


def drop_line(lines):
    del lines[4]
    return lines, 5


def swap_lines(lines):
    lines[3], lines[4] = lines[4], lines[3]
    return lines, 4


def insert_line(lines):
    lines.insert(6, lines[2])
    return lines, 7


@pytest.mark.parametrize('tamper', [edit_byte, drop_line, swap_lines, insert_line])
def test_tampered_copy_is_caught(mixed_run, tmp_path, tamper):
    lines, bad = tamper(mixed_run['path'].read_text().splitlines())
    copy = tmp_path / 'copy.jsonl'
    copy.write_text('\n'.join(lines) + '\n')
    proc = check(copy)
    assert proc.returncode == 1
    assert 'BROKEN at line %d:' % bad in proc.stderr


def test_cut_footer_is_reported_incomplete(mixed_run, tmp_path):
    copy = tmp_path / 'copy.jsonl'
    copy.write_text('\n'.join(mixed_run['path'].read_text().splitlines()[:-1]) + '\n')
    proc = check(copy)
    assert proc.returncode == 3 and 'no footer' in proc.stderr


def test_passing_run_options_and_runner_artifacts(tmp_path):
    artifacts = tmp_path / 'artifacts' / 'job-42'
    artifacts.mkdir(parents=True)
    env = ansible_env(tmp_path, AWX_ISOLATED_DATA_DIR=artifacts, MT5CRS_VERIFY_LOG_REDACT_PATTERNS='^vl_custom',
                      MT5CRS_VERIFY_LOG_SUMMARY='false')
    proc = run_playbook(tmp_path, os.path.join(TARGETS, 'passing.yml'), write_inventory(tmp_path, False), env=env)
    assert not (tmp_path / 'verify').exists()
    path, records = read_log(artifacts / 'verify_log')
    assert list((artifacts / 'verify_log').glob('*.summary.txt')) == []
    assert records[0]['runner'] == {'artifact_dir': str(artifacts), 'ident': 'job-42'}
    assert records[-1]['verdict'] == 'passed'
    shown = tasks(records, 'Show a value under a custom secret key')[0]
    assert shown['result']['vl_custom_thing'] == '<redacted>'
    assert 'custom-secret-value' not in path.read_text()
    printed = tasks(records, 'Print an environment secret as evidence')[0]
    assert printed['evidence'] is True and printed['result']['stdout'] == '<redacted>'
    assert 'environment-secret-value' not in path.read_text()
    assert 'VERIFY LOG PASSED' in proc.stdout
    assert check(path).returncode == 0


@pytest.mark.parametrize('how', ['sigint', 'sigkill'])
def test_interrupted_run_leaves_a_checkable_log(tmp_path, how):
    env = ansible_env(tmp_path)
    cmd = [venv_bin('ansible-playbook'), '-i', write_inventory(tmp_path, False),
           os.path.join(TARGETS, 'interrupted.yml')]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    log_dir = tmp_path / 'verify'
    try:
        for dummy in range(600):
            logs = list(log_dir.glob('*.jsonl')) if log_dir.exists() else []
            if logs and len(logs[0].read_text().splitlines()) >= 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail('the log never received its first task record')
        if how == 'sigint':
            # Ctrl-C: ansible-playbook stops, and the callback closes the chain with an "interrupted" footer.
            os.kill(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    result = check(logs[0])
    if how == 'sigint':
        assert result.returncode == 0, result.stderr
        assert 'verdict interrupted' in result.stdout
        assert 'Verdict      INTERRUPTED' in logs[0].with_name(logs[0].stem + '.summary.txt').read_text()
    else:
        assert result.returncode == 3, result.stderr
        assert 'chain intact' in result.stderr


def test_summary_reads_the_collection_evidence(tmp_path, s3_server):
    creds = s3_server.credentials
    src = tmp_path / 'dataset.bin'
    src.write_bytes(os.urandom(64 * 1024))
    wrong_secret = 'W6-wrong-secret-Tt4u'
    inventory = tmp_path / 'inventory.ini'
    inventory.write_text('\n'.join([
        '[inf]', 'inf1 ansible_connection=local ansible_python_interpreter=%s' % sys.executable,
        '[gpu]', 'gpu1 ansible_connection=local ansible_python_interpreter=%s' % sys.executable, '']))
    extra = {
        'mt5crs_s3_endpoint_url': creds['endpoint_url'], 'mt5crs_s3_access_key': creds['access_key'],
        'mt5crs_s3_secret_key': creds['secret_key'], 'vl_other_value': wrong_secret,
        'vl_bucket': 'vl-evidence', 'vl_key': 'runs/dataset.bin', 'vl_src': str(src),
        'vl_dest': str(tmp_path / 'fetched.bin'),
        'vl_fake_nvidia_smi': os.path.join(ROOT, 'tests', 'support', 'fake_nvidia_smi.py'),
    }
    proc = run_playbook(tmp_path, os.path.join(TARGETS, 'evidence.yml'), str(inventory), extra_vars=extra,
                        args=['-vvvv'])
    path, records = read_log(tmp_path / 'verify')

    wrong = tasks(records, 'Try the bucket with a wrong secret', host='inf1')[0]
    assert wrong['status'] == 'failed' and wrong['ignored'] is True
    probe = tasks(records, 'Probe the GPUs through the recorded nvidia-smi', host='gpu1')[0]
    assert probe['evidence'] is True and probe['phase'] == 'preflight' and probe['result']['gpu_count'] >= 1
    put = tasks(records, 'Upload the dataset', host='inf1')[0]
    get = tasks(records, 'Download the dataset', host='gpu1')[0]
    assert put['result']['md5'] == get['result']['md5'] and get['phase'] == 'fetch'
    assert put['result']['bytes_transferred'] == 64 * 1024

    summary = path.with_name(records[0]['run_id'] + '.summary.txt').read_text()
    assert 'Verdict      PASSED' in summary
    assert 'Dataset md5  INF and GPU sides MATCH' in summary
    assert 's3://vl-evidence/runs/dataset.bin md5 INF %s / GPU %s (gpu1): MATCH' % (
        put['result']['md5'], get['result']['md5']) in summary
    assert 'GPU 1 x NVIDIA H100' in summary or 'GPU %d x NVIDIA H100' % probe['result']['gpu_count'] in summary
    assert 'torch' in summary
    assert '> smoke test passed, loss 0.42' in summary
    assert 'dataset md5: INF = GPU' in proc.stdout

    for item in (path, path.with_name(records[0]['run_id'] + '.summary.txt')):
        text = item.read_text()
        assert creds['secret_key'] not in text and wrong_secret not in text
    block = proc.stdout[proc.stdout.index('VERIFY LOG PASSED'):]
    assert creds['secret_key'] not in block
    assert check(path).returncode == 0
