# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the testinfra checks that molecule's verify step runs (tests/molecule/<scenario>/).

Molecule exports MOLECULE_INVENTORY_FILE and MOLECULE_EPHEMERAL_DIRECTORY to the verifier; the
create step (molecule/resources/create.yml) keeps this run's verify logs, SSH files and S3 server
state under the ephemeral directory.
"""

import glob
import json
import os
import shlex
import subprocess
import sys

import testinfra.utils.ansible_runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPHEMERAL = os.environ.get('MOLECULE_EPHEMERAL_DIRECTORY', '')
INVENTORY = os.environ.get('MOLECULE_INVENTORY_FILE', '')


def hosts(group='all'):
    """Inventory hosts of group, as testinfra host specs for `testinfra_hosts`."""
    if not INVENTORY:
        raise RuntimeError('MOLECULE_INVENTORY_FILE is not set: run these checks through `molecule verify`')
    return testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts(group)


def host_names(group='all'):
    """Inventory host names of group (without the ansible:// prefix)."""
    return [spec.split('://', 1)[-1] for spec in hosts(group)]


def verify_logs():
    """Every verify log of this run as (path, header, records, footer), oldest first."""
    logs = []
    for path in sorted(glob.glob(os.path.join(EPHEMERAL, 'verify', '*.jsonl'))):
        with open(path) as stream:
            lines = [json.loads(line) for line in stream if line.strip()]
        header = lines[0] if lines and lines[0].get('type') == 'header' else {}
        footer = lines[-1] if lines and lines[-1].get('type') == 'footer' else {}
        records = [line for line in lines if line.get('type') == 'task']
        logs.append((path, header, records, footer))
    return logs


def converge_logs(check_mode=None):
    """Verify logs of the converge playbook (the check-mode pass, converge and idempotence runs)."""
    logs = [log for log in verify_logs() if any(p.endswith('/converge.yml') for p in log[1].get('playbooks', []))]
    if check_mode is not None:
        logs = [log for log in logs if bool(log[1].get('check_mode')) == check_mode]
    return logs


def check_chain(path):
    """Run the offline chain checker on one log; return (exit status, output)."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'verify_log_check.py'), path],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return proc.returncode, proc.stdout


def s3_credentials():
    """This run's S3 server credentials (written 0600 by tools/local_s3.py during create)."""
    with open(os.path.join(EPHEMERAL, 's3', 'credentials.json')) as stream:
        return json.load(stream)


def s3_client():
    import boto3
    from botocore.config import Config
    creds = s3_credentials()
    return boto3.client('s3', endpoint_url=creds['endpoint_url'], region_name=creds['region'],
                        aws_access_key_id=creds['access_key'], aws_secret_access_key=creds['secret_key'],
                        config=Config(s3={'addressing_style': 'path'}))


def read_manifest(bucket, key):
    """The dataset manifest object `<key>.manifest.json` as a dict."""
    body = s3_client().get_object(Bucket=bucket, Key=key + '.manifest.json')['Body'].read()
    return json.loads(body)


def inventory_vars(name):
    """Variables of one inventory host as ansible-inventory sees them (not templated)."""
    return testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_variables(name)


def assert_logged_every_host(group_hosts, phases):
    """Each converge run (check, converge, idempotence) passed and has records of every host in every phase."""
    runs = converge_logs()
    assert len(runs) >= 3, 'expected check-mode, converge and idempotence logs, found %d: %s' % (
        len(runs), [r[0] for r in runs])
    assert any(run[1].get('check_mode') for run in runs), 'no check-mode run in the verify logs'
    for path, header, records, footer in runs:
        assert footer.get('verdict') == 'passed', '%s: verdict %r, expected passed' % (path, footer.get('verdict'))
        status, output = check_chain(path)
        assert status == 0, '%s: hash chain check failed: %s' % (path, output)
        for phase in phases:
            logged = {record['host'] for record in records if record.get('phase') == phase}
            missing = sorted(set(group_hosts[phase]) - logged)
            assert not missing, '%s: no %s records for hosts %s' % (path, phase, missing)


def host_var(host, name):
    """One inventory variable of a testinfra host (literal values only: nothing is templated)."""
    return inventory_vars(host.backend.host)[name]


SECRET_SEARCH_PATHS = ('/etc', '/opt', '/srv', '/home', '/root', '/tmp')


def ssh(name, command, stdin_text=''):
    """Run command on inventory host name over SSH as Ansible would (same key, known_hosts and checking),
    feeding stdin_text on standard input; return the CompletedProcess."""
    hostvars = inventory_vars(name)
    cmd = ['ssh', '-i', hostvars['ansible_ssh_private_key_file'], '-l', hostvars.get('ansible_user', 'root')]
    cmd += shlex.split(hostvars.get('ansible_ssh_common_args', ''))
    cmd += [hostvars.get('ansible_host', name), command]
    return subprocess.run(cmd, input=stdin_text, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=300, check=False)


def assert_secret_absent(host, secret):
    """No regular file under the usual places on host contains secret.

    The secret travels on grep's standard input (`-f -`), never on a command line.
    """
    assert len(secret) >= 8, 'refusing to search for a secret this short: %d characters' % len(secret)
    paths = [path for path in SECRET_SEARCH_PATHS if host.file(path).exists]
    proc = ssh(host.backend.host, 'grep -rlF --devices=skip -f - -- ' + ' '.join(shlex.quote(p) for p in paths),
               secret + '\n')
    # grep: 0 a match, 1 no match, 2 an error (then the search is not trustworthy)
    assert proc.returncode == 1, 'the S3 secret was found in files on %s: %s (grep rc %d, %s)' % (
        host.backend.host, proc.stdout.split(), proc.returncode, proc.stderr.strip())


def check_venv_owner(host):
    """The venv exists and everything in it (links included) belongs to the configured owner."""
    owner = host_var(host, 'mt5crs_venv_owner')
    venv = host_var(host, 'mt5crs_venv_path')
    assert host.file(venv + '/pyvenv.cfg').is_file, 'no venv at %s' % venv
    assert host.file(venv).user == owner
    others = host.check_output('find %s ! -user %s -printf "%%u %%p\\n"', venv, owner)
    assert others == '', 'files in %s not owned by %s:\n%s' % (venv, owner, others[:2000])


def check_torch_imports(host, expected_version):
    """torch imports in the venv, run as the venv's owner, and is the expected build."""
    owner = host_var(host, 'mt5crs_venv_owner')
    venv = host_var(host, 'mt5crs_venv_path')
    cmd = host.run("runuser -u %s -- %s/bin/python -c 'import torch; print(torch.__version__, "
                   "torch.cuda.is_available())'", owner, venv)
    assert cmd.rc == 0, cmd.stderr
    version, cuda = cmd.stdout.split()
    assert version == expected_version, 'torch %s, expected %s' % (version, expected_version)
    assert cuda == 'False', 'torch.cuda.is_available() is %s in a container without a GPU' % cuda


def dataset_path(host):
    return '%s/%s' % (host_var(host, 'mt5crs_data_dir'), os.path.basename(host_var(host, 'mt5crs_dataset_key')))


def check_dataset(host):
    """The dataset is there with mode 0640 and its MD5 and size are the manifest's."""
    path = dataset_path(host)
    dataset = host.file(path)
    assert dataset.is_file, '%s missing' % path
    assert dataset.mode == 0o640, '%s has mode %o, expected 0640' % (path, dataset.mode)
    manifest = read_manifest(host_var(host, 'mt5crs_dataset_bucket'), host_var(host, 'mt5crs_dataset_key'))
    on_host = host.check_output('md5sum %s', path).split()[0]
    assert on_host == manifest['md5'], 'MD5 of %s on %s is %s, the manifest says %s' % (
        path, host.backend.host, on_host, manifest['md5'])
    assert dataset.size == manifest['size']


def check_env_file(host, secret):
    """The environment file names the venv and holds no secret."""
    venv = host_var(host, 'mt5crs_venv_path')
    env_file = host.file(os.path.dirname(venv) + '/mt5crs.env')
    assert env_file.is_file
    content = env_file.content_string
    assert 'MT5CRS_VENV=' in content and venv in content
    assert secret not in content, 'the S3 secret is in %s' % env_file.path
    assert 'SECRET_KEY' not in content.upper()
