# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The torch build table: which PyTorch variant a host gets for the CUDA version its driver supports."""

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.mt5crs.gpu_orchestrator.plugins.filter.torch_build import FilterModule, torch_build

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

TABLE = [
    {'tag': 'cu126', 'cuda': '12.6'},
    {'tag': 'cu130', 'cuda': '13.0'},
    {'tag': 'cu128', 'cuda': '12.8'},
    {'tag': 'cu118', 'cuda': '11.8'},
]


@pytest.mark.parametrize('driver, expected', [
    ('13.0', 'cu130'),      # exact match, newest entry
    ('12.8', 'cu128'),      # exact match in the middle
    ('11.8', 'cu118'),      # exact match, oldest entry
    ('13.2', 'cu130'),      # newer than every build: the newest
    ('12.9', 'cu128'),      # between entries: the one below
    ('12.7', 'cu126'),
    ('12.4', 'cu118'),
    ('12.8.1', 'cu128'),    # a patch component is ignored
    (12.6, 'cu126'),        # YAML may hand over a float
])
def test_auto_picks_newest_build_not_newer_than_driver(driver, expected):
    result = torch_build(driver, TABLE, 'auto', '2.13.0')
    assert result['variant'] == expected
    assert result['local_label'] == expected
    assert result['requirement'] == 'torch==2.13.0+%s' % expected
    assert result['version'] == '2.13.0+%s' % expected
    assert result['index_url'] == 'https://download.pytorch.org/whl/%s' % expected
    assert 'CUDA' in result['reason']


def test_cuda_version_compared_numerically_not_as_text():
    table = [{'tag': 'cu129', 'cuda': '12.9'}, {'tag': 'cu1210', 'cuda': '12.10'}]
    assert torch_build('12.10', table)['variant'] == 'cu1210'
    assert torch_build('12.9', table)['variant'] == 'cu129'


def test_below_oldest_build_fails_clearly():
    with pytest.raises(AnsibleFilterError) as err:
        torch_build('11.4', TABLE)
    message = str(err.value)
    assert 'CUDA 11.4' in message
    assert 'cu118 needs CUDA 11.8' in message


@pytest.mark.parametrize('driver', [None, ''])
def test_no_gpu_gets_cpu_build(driver):
    result = torch_build(driver, TABLE, 'auto', '2.13.0')
    assert result['variant'] == 'cpu'
    assert result['requirement'] == 'torch==2.13.0+cpu'
    assert result['index_url'] == 'https://download.pytorch.org/whl/cpu'
    assert result['cuda'] == ''
    assert 'no usable GPU' in result['reason']


def test_explicit_cpu_wins_over_a_gpu():
    result = torch_build('13.0', TABLE, 'cpu')
    assert result['variant'] == 'cpu'
    assert 'explicitly' in result['reason']


@pytest.mark.parametrize('variant, cuda', [('cu118', '11.8'), ('CU126', '12.6'), ('cu132', '13.2')])
def test_explicit_cuda_variant_even_without_driver(variant, cuda):
    result = torch_build(None, TABLE, variant, '2.13.0')
    assert result['variant'] == variant.lower()
    assert result['cuda'] == cuda
    assert result['requirement'] == 'torch==2.13.0+%s' % variant.lower()


def test_empty_template_gives_no_index():
    assert torch_build(None, TABLE, index_url_template='')['index_url'] == ''


def test_custom_template():
    result = torch_build('12.8', TABLE, index_url_template='https://mirror.example/pytorch/{tag}/simple')
    assert result['index_url'] == 'https://mirror.example/pytorch/cu128/simple'


@pytest.mark.parametrize('driver', ['abc', '12', '12.x', 'CUDA 12.8', '.8'])
def test_malformed_driver_version_fails_clearly(driver):
    with pytest.raises(AnsibleFilterError, match='cuda_driver_version is not a CUDA version: .*expected MAJOR.MINOR'):
        torch_build(driver, TABLE)


@pytest.mark.parametrize('version, match', [
    ('2.13.0+cpu', 'carries a local label'),
    ('latest', 'not a release version'),
    ('', 'not a release version'),
    ('2', 'not a release version'),
])
def test_malformed_torch_version_fails_clearly(version, match):
    with pytest.raises(AnsibleFilterError, match=match):
        torch_build(None, TABLE, 'auto', version)


@pytest.mark.parametrize('table, match', [
    ([], 'table is empty'),
    ('cu130', 'table is empty or not a list'),
    ([{'tag': 'cu130'}], 'entry is malformed'),
    ([{'tag': 'cuda13', 'cuda': '13.0'}], 'tag is malformed'),
    ([{'tag': 'cu130', 'cuda': 'thirteen'}], 'the cuda of table entry cu130 is not a CUDA version'),
])
def test_malformed_table_fails_clearly(table, match):
    with pytest.raises(AnsibleFilterError, match=match):
        torch_build('13.0', table)


@pytest.mark.parametrize('variant', ['gpu', 'rocm6.2', 'cu', 'cu12'])
def test_unknown_variant_fails_clearly(variant):
    with pytest.raises(AnsibleFilterError, match='variant is not recognised'):
        torch_build('13.0', TABLE, variant)


def test_bad_template_fails_clearly():
    with pytest.raises(AnsibleFilterError, match='index_url_template cannot be formatted'):
        torch_build(None, TABLE, index_url_template='https://x/{variant}')


def test_role_default_table_is_valid_and_newest_first():
    """The role's shipped table parses, and every driver at or above its oldest entry gets a build."""
    with open(os.path.join(ROOT, 'roles', 'gpu_env', 'defaults', 'main.yml')) as handle:
        defaults = yaml.safe_load(handle)
    table = defaults['gpu_env_torch_cuda_builds']
    cudas = [tuple(int(p) for p in entry['cuda'].split('.')) for entry in table]
    assert cudas == sorted(cudas, reverse=True)
    newest, oldest = table[0], table[-1]
    assert torch_build(newest['cuda'], table)['variant'] == newest['tag']
    assert torch_build(oldest['cuda'], table)['variant'] == oldest['tag']
    assert torch_build('99.0', table)['variant'] == newest['tag']
    assert defaults['gpu_env_torch_version'] == '2.13.0'


def test_filter_is_registered():
    assert FilterModule().filters()['torch_build'] is torch_build
