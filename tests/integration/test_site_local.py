# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The main job end to end on the embedded default (inventories/local), in a private directory.

One module-scoped run builds the venv (CPU torch from the machine's wheel folder) and moves the
real EURUSD dataset through a real moto server; the tests then rerun, corrupt and repair it.
"""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, ansible_env, md5_of, venv_bin

pytestmark = pytest.mark.slow

BUCKET = 'mt5crs-datasets'
KEY = 'eurusd/h1/eurusd_h1_features.parquet'


def recap(output):
    """Per-host (ok, changed, failed) from the PLAY RECAP."""
    stats = {}
    for host, ok, changed, unreachable, failed in re.findall(
            r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', output, re.M):
        stats[host] = {'ok': int(ok), 'changed': int(changed), 'unreachable': int(unreachable), 'failed': int(failed)}
    return stats


def newest_log(log_dir):
    logs = sorted(glob.glob(os.path.join(log_dir, '*.jsonl')), key=os.path.getmtime)
    assert logs, 'no verify log in %s' % log_dir
    with open(logs[-1]) as handle:
        return logs[-1], [json.loads(line) for line in handle if line.strip()]


class Demo(object):
    def __init__(self, tmp):
        self.tmp = tmp
        self.root = tmp / 'demo'
        self.log_dir = tmp / 'verify'
        self.port = __import__('local_s3').free_port()
        self.dataset = self.root / 'inf' / 'eurusd_h1_features.parquet'
        self.gpu_copy = self.root / 'gpu' / 'data' / 'eurusd_h1_features.parquet'
        self.venv_python = self.root / 'gpu' / 'venv' / 'bin' / 'python'

    def run(self, *args):
        env = ansible_env(self.tmp, MT5CRS_VERIFY_LOG_DIR=self.log_dir)
        cmd = [venv_bin('ansible-playbook'), 'site.yml', '-i', 'inventories/local',
               '-e', 'mt5crs_local_root=%s' % self.root, '-e', 'mt5crs_local_s3_port=%d' % self.port] + list(args)
        return subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              check=False)

    def credentials(self):
        with open(self.root / 's3' / 'credentials.json') as handle:
            return json.load(handle)

    def s3(self):
        import boto3
        from botocore.config import Config
        creds = self.credentials()
        return boto3.client('s3', endpoint_url=creds['endpoint_url'], region_name='us-east-1',
                            aws_access_key_id=creds['access_key'], aws_secret_access_key=creds['secret_key'],
                            config=Config(s3={'addressing_style': 'path'}))

    def stop(self):
        subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'local_s3.py'), 'stop',
                        '--state-dir', str(self.root / 's3')], check=False)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('site')
    demo = Demo(tmp)
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'make_dataset.py'), '--from-backtesting',
                    '--out', str(demo.dataset)], check=True)
    demo.first = demo.run()
    yield demo
    demo.stop()


def test_first_run_delivers_a_verified_dataset(demo):
    assert demo.first.returncode == 0, demo.first.stdout[-8000:]
    stats = recap(demo.first.stdout)
    assert stats['gpu-local']['failed'] == 0 and stats['inf-local']['failed'] == 0

    inf_md5 = md5_of(demo.dataset)
    assert md5_of(demo.gpu_copy) == inf_md5
    head = demo.s3().head_object(Bucket=BUCKET, Key=KEY)
    assert head['Metadata'].get('md5') == inf_md5
    manifest = json.loads(demo.s3().get_object(Bucket=BUCKET, Key=KEY + '.manifest.json')['Body'].read())
    assert manifest['md5'] == inf_md5 and manifest['rows'] == 4980
    assert oct(os.stat(demo.gpu_copy).st_mode & 0o777) == '0o640'

    # the probe's honest finding and the CPU build importing in the venv
    assert 'cuda_active=False' in demo.first.stdout
    out = subprocess.run([str(demo.venv_python), '-c', 'import torch; print(torch.__version__)'],
                         stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    assert out.endswith('+cpu')


def test_verify_log_shows_both_sides_and_the_smoke_test(demo):
    path, records = newest_log(demo.log_dir)
    summaries = glob.glob(os.path.join(str(demo.log_dir), '*.summary.txt'))
    assert summaries
    inf_md5 = md5_of(demo.dataset)
    text = open(sorted(summaries, key=os.path.getmtime)[-1]).read()
    assert text.count(inf_md5) >= 2
    assert demo.credentials()['secret_key'] not in open(path).read() + text
    hosts = {r.get('host') for r in records}
    assert {'inf-local', 'gpu-local'} <= hosts
    check = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'verify_log_check.py'), path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert check.returncode == 0, check.stdout


def test_second_run_changes_nothing_and_moves_no_bytes(demo):
    second = demo.run()
    assert second.returncode == 0, second.stdout[-8000:]
    stats = recap(second.stdout)
    assert all(s['changed'] == 0 for s in stats.values()), stats
    dummy, records = newest_log(demo.log_dir)
    moved = [r for r in records if str(r.get('action', '')).endswith('minio_object')]
    assert moved
    for record in moved:
        assert record['result'].get('bytes_transferred') == 0, record


def test_corrupted_object_fails_fetch_and_keeps_the_good_copy(demo):
    good_md5 = md5_of(demo.gpu_copy)
    s3 = demo.s3()
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    body = bytearray(s3.get_object(Bucket=BUCKET, Key=KEY)['Body'].read())
    body[len(body) // 2] ^= 0xFF
    # Replace the bytes behind the collection's back, keeping the stored MD5 metadata.
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=bytes(body), Metadata=head['Metadata'])

    run = demo.run('--tags', 'fetch,smoke')
    assert run.returncode != 0
    assert re.search(r'(?i)md5', run.stdout) and good_md5 in run.stdout, run.stdout[-6000:]
    assert md5_of(demo.gpu_copy) == good_md5
    dummy, records = newest_log(demo.log_dir)
    assert not [r for r in records if r.get('phase') == 'smoke' and r.get('status') in ('ok', 'changed')]

    # publishing again repairs the bucket and the chain passes
    again = demo.run()
    assert again.returncode == 0, again.stdout[-8000:]
    assert md5_of(demo.gpu_copy) == good_md5


def test_removed_torch_is_repaired(demo):
    subprocess.run([str(demo.venv_python), '-m', 'pip', 'uninstall', '-y', '-q', 'torch'], check=True)
    run = demo.run('--tags', 'env')
    assert run.returncode == 0, run.stdout[-8000:]
    assert recap(run.stdout)['gpu-local']['changed'] > 0
    subprocess.run([str(demo.venv_python), '-c', 'import torch'], check=True)
