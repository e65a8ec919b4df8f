# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest fixtures: the collection on sys.path, a real S3 server, ansible-playbook runs."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, 'collections')
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')

for path in (COLLECTIONS, os.path.join(ROOT, 'tools')):
    if path not in sys.path:
        sys.path.insert(0, path)

import local_s3  # noqa: E402  (tools/ is put on sys.path just above)


def md5_of(path):
    """MD5 of a file, read in 1 MiB blocks."""
    digest = hashlib.md5()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def venv_bin(name):
    """Path of a console script next to the interpreter running the tests."""
    return os.path.join(os.path.dirname(sys.executable), name)


@pytest.fixture(scope='session')
def s3_server(tmp_path_factory):
    """A real moto server on a free loopback port, signature checking on, random credentials."""
    log = tmp_path_factory.mktemp('s3') / 'server.log'
    server = local_s3.MotoServer(log_path=str(log))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_client(s3_server):
    import boto3
    from botocore.config import Config
    creds = s3_server.credentials
    return boto3.client('s3', endpoint_url=creds['endpoint_url'], region_name=creds['region'],
                        aws_access_key_id=creds['access_key'], aws_secret_access_key=creds['secret_key'],
                        config=Config(s3={'addressing_style': 'path'}))


def ansible_env(tmp_path, **extra):
    """Environment for running ansible-playbook from the checkout with the checkout's ansible.cfg."""
    env = dict(os.environ)
    env.update({
        'ANSIBLE_CONFIG': os.path.join(ROOT, 'ansible.cfg'),
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
        'MT5CRS_VERIFY_LOG_DIR': str(tmp_path / 'verify'),
        'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-local'),
        'ANSIBLE_NOCOLOR': '1',
        'PATH': os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', ''),
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_playbook(tmp_path, playbook, inventory='localhost,', extra_vars=None, args=(), env=None, check=True):
    """Run ansible-playbook from the checkout root; return the CompletedProcess (stdout+stderr text)."""
    cmd = [venv_bin('ansible-playbook'), '-i', inventory, str(playbook)]
    if extra_vars:
        vars_file = tmp_path / ('extra-vars-%d.json' % len(list(tmp_path.glob('extra-vars-*.json'))))
        vars_file.write_text(json.dumps(extra_vars))
        os.chmod(str(vars_file), 0o600)
        cmd += ['-e', '@%s' % vars_file]
    cmd += list(args)
    proc = subprocess.run(cmd, cwd=ROOT, env=env or ansible_env(tmp_path), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('ansible-playbook failed (rc=%d):\n%s' % (proc.returncode, proc.stdout[-6000:]))
    return proc
