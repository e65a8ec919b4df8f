# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an operator checks after publish and fetch: the bytes on the GPU host are the bytes in the manifest."""

import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import molecule_support as ms  # noqa: E402

testinfra_hosts = ms.hosts('gpu')


def dataset_path(host):
    return '%s/%s' % (ms.host_var(host, 'mt5crs_data_dir'), os.path.basename(ms.host_var(host, 'mt5crs_dataset_key')))


def test_dataset_exists_with_mode_0640(host):
    dataset = host.file(dataset_path(host))
    assert dataset.is_file, '%s missing' % dataset.path
    assert dataset.mode == 0o640, '%s has mode %o, expected 0640' % (dataset.path, dataset.mode)
    assert dataset.user == ms.host_var(host, 'mt5crs_venv_owner')


def test_dataset_md5_equals_the_manifest(host):
    manifest = ms.read_manifest(ms.host_var(host, 'mt5crs_dataset_bucket'), ms.host_var(host, 'mt5crs_dataset_key'))
    on_host = host.check_output('md5sum %s', dataset_path(host)).split()[0]
    assert on_host == manifest['md5'], 'MD5 on %s is %s, the manifest says %s' % (
        host.backend.host, on_host, manifest['md5'])
    assert host.file(dataset_path(host)).size == manifest['size']


def test_manifest_md5_is_the_source_file_md5():
    source = os.path.join(ms.EPHEMERAL, 'eurusd_h1.parquet')
    with open(source, 'rb') as stream:
        expected = hashlib.md5(stream.read()).hexdigest()
    name = ms.host_names('gpu')[0]
    hostvars = ms.inventory_vars(name)
    manifest = ms.read_manifest(hostvars['mt5crs_dataset_bucket'], hostvars['mt5crs_dataset_key'])
    assert manifest['md5'] == expected, 'manifest MD5 %s, the file published from the INF side has %s' % (
        manifest['md5'], expected)
    assert manifest['rows'] > 0 and 'label' in manifest['columns']


def test_secret_is_in_no_file_on_the_host(host):
    ms.assert_secret_absent(host, ms.s3_credentials()['secret_key'])


def test_verify_log_has_every_host():
    ms.assert_logged_every_host({'publish': ms.host_names('inf'), 'fetch': ms.host_names('gpu')},
                                ['publish', 'fetch'])
