# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an operator checks after the env phase: the venv, its owner, torch importing, and no secret anywhere."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import molecule_support as ms  # noqa: E402

testinfra_hosts = ms.hosts('gpu')


def test_venv_exists_with_the_configured_owner(host):
    owner = ms.host_var(host, 'mt5crs_venv_owner')
    venv = ms.host_var(host, 'mt5crs_venv_path')
    assert host.file(venv + '/pyvenv.cfg').is_file
    assert host.file(venv).user == owner
    # Not just the top directory: nothing in the venv (links included) belongs to anyone else.
    others = host.check_output('find %s ! -user %s -printf "%%u %%p\\n"', venv, owner)
    assert others == '', 'files in %s not owned by %s:\n%s' % (venv, owner, others[:2000])


def test_torch_imports_in_the_venv_as_the_owner(host):
    owner = ms.host_var(host, 'mt5crs_venv_owner')
    venv = ms.host_var(host, 'mt5crs_venv_path')
    cmd = host.run("runuser -u %s -- %s/bin/python -c 'import torch; print(torch.__version__, "
                   "torch.cuda.is_available())'", owner, venv)
    assert cmd.rc == 0, cmd.stderr
    version, cuda = cmd.stdout.split()
    assert version == '2.13.0+cpu', 'torch %s, expected the CPU build from the wheelhouse' % version
    assert cuda == 'False'


def test_data_libraries_import_in_the_venv(host):
    venv = ms.host_var(host, 'mt5crs_venv_path')
    cmd = host.run("%s/bin/python -c 'import numpy, pandas, sklearn, pyarrow, boto3'", venv)
    assert cmd.rc == 0, cmd.stderr


def test_env_file_holds_no_secret(host):
    venv = ms.host_var(host, 'mt5crs_venv_path')
    env_file = host.file(os.path.dirname(venv) + '/mt5crs.env')
    assert env_file.is_file
    content = env_file.content_string
    assert 'MT5CRS_VENV=' in content and venv in content
    assert ms.host_var(host, 'mt5crs_s3_secret_key') not in content
    assert 'SECRET' not in content.upper().replace('NO SECRETS', '')


def test_secret_is_in_no_file_on_the_host(host):
    ms.assert_secret_absent(host, ms.host_var(host, 'mt5crs_s3_secret_key'))


def test_verify_log_has_every_host():
    ms.assert_logged_every_host({'env': ms.host_names('gpu')}, ['env'])


def test_verify_log_records_the_torch_build():
    records = ms.converge_logs(check_mode=False)[-1][2]
    for name in ms.host_names('gpu'):
        probes = [r for r in records if r['host'] == name and r['action'].endswith('gpu_probe')
                  and 'torch' in r['result']]
        assert probes, 'no torch probe record for %s' % name
        assert probes[-1]['result']['torch']['version'] == '2.13.0+cpu'
