# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an operator checks after the whole site playbook on one INF host and two GPU hosts."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import molecule_support as ms  # noqa: E402

testinfra_hosts = ms.hosts('gpu')


def test_venv_exists_with_the_configured_owner(host):
    ms.check_venv_owner(host)


def test_torch_imports_in_the_venv(host):
    ms.check_torch_imports(host, '2.13.0+cpu')


def test_dataset_exists_with_mode_0640_and_the_manifest_md5(host):
    ms.check_dataset(host)


def test_env_file_holds_no_secret(host):
    ms.check_env_file(host, ms.s3_credentials()['secret_key'])


def test_secret_is_in_no_file_on_the_host(host):
    ms.assert_secret_absent(host, ms.s3_credentials()['secret_key'])


def test_verify_log_has_every_host_in_every_phase():
    gpu, inf = ms.host_names('gpu'), ms.host_names('inf')
    ms.assert_logged_every_host({'preflight': gpu + inf, 'env': gpu, 'publish': inf, 'fetch': gpu, 'smoke': gpu},
                                ['preflight', 'env', 'publish', 'fetch', 'smoke'])
