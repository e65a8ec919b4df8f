# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every AWX survey question against the argument spec of the role it drives.

A question fails on a mismatch of variable name, type, default or choices, and on a variable that
a survey must not carry: one whose role default is derived from an inventory variable, or one an
inventory in this checkout sets, because a survey answer is an extra var and would override the
inventory. Type mapping (argument spec -> AWX survey), also in docs/awx.md:

    str with choices     -> multiplechoice, the same choices
    str with no_log      -> password
    str, path, raw       -> text or textarea
    int                  -> integer
    float                -> float
    bool                 -> multiplechoice with choices true/false (AWX has no boolean type; the
                            answer arrives as the string "true" or "false")
    list with choices    -> multiselect, the same choices (default: the picks joined by newlines)
    anything else (list without choices, dict) cannot be asked in a survey.
"""

import glob
import os

import pytest
import yaml

from conftest import ROOT

AWX_DIR = os.path.join(ROOT, 'awx')
PHASES = ('preflight', 'review', 'env', 'publish', 'fetch', 'smoke')
SURVEY_TYPES = ('text', 'textarea', 'password', 'integer', 'float', 'multiplechoice', 'multiselect')
TYPE_MAP = {
    'str': ('text', 'textarea'),
    'path': ('text', 'textarea'),
    'raw': ('text', 'textarea'),
    'int': ('integer',),
    'float': ('float',),
    'bool': ('multiplechoice',),
}
BOOL_CHOICES = ['true', 'false']


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def job_templates():
    return load_yaml(os.path.join(AWX_DIR, 'job_templates.yml'))['mt5crs_awx_job_templates']


def role_spec(role):
    """Options of the role's main entry point, or None while the role has no argument spec yet."""
    path = os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml')
    if not os.path.exists(path):
        return None
    return load_yaml(path)['argument_specs']['main'].get('options', {})


def role_defaults(role):
    path = os.path.join(ROOT, 'roles', role, 'defaults', 'main.yml')
    return (load_yaml(path) or {}) if os.path.exists(path) else {}


def inventory_variables():
    """Every variable name any inventory of the checkout sets, with the file that sets it."""
    found = {}
    for path in glob.glob(os.path.join(ROOT, 'inventories', '**', '*.yml'), recursive=True):
        data = load_yaml(path) or {}
        if os.path.basename(path) in ('hosts.yml', 'hosts.yaml'):
            stack = [data]
            while stack:
                node = stack.pop()
                if not isinstance(node, dict):
                    continue
                for key, value in node.items():
                    if key == 'vars' and isinstance(value, dict):
                        found.update((name, path) for name in value)
                    elif key == 'hosts' and isinstance(value, dict):
                        for host_vars in value.values():
                            if isinstance(host_vars, dict):
                                found.update((name, path) for name in host_vars)
                    elif isinstance(value, dict):
                        stack.append(value)
        elif isinstance(data, dict):
            found.update((name, path) for name in data)
    return found


def survey_answer(option):
    """The value AWX would send for the argument spec's default, as the survey's default holds it."""
    default = option.get('default')
    if option.get('type', 'str') == 'bool':
        return 'true' if default else 'false'
    if option.get('type', 'str') == 'list':
        return '\n'.join(str(item) for item in default)
    return default


def question_problems(question, option):
    """Mismatches between one survey question and the argument spec option it sets."""
    problems = []
    variable = question['variable']
    spec_type = option.get('type', 'str')
    kind = question['type']

    if option.get('choices'):
        expected_kinds = ('multiselect',) if spec_type == 'list' else ('multiplechoice',)
    elif option.get('no_log'):
        expected_kinds = ('password',)
    else:
        expected_kinds = TYPE_MAP.get(spec_type, ())
    if kind not in expected_kinds:
        problems.append('%s: survey type %s, expected one of %s for argument spec type %s'
                        % (variable, kind, list(expected_kinds) or 'none (not askable)', spec_type))

    if spec_type == 'bool':
        expected_choices = BOOL_CHOICES
    elif option.get('choices'):
        expected_choices = [str(choice) for choice in option['choices']]
    else:
        expected_choices = None
    choices = question.get('choices')
    if isinstance(choices, str):
        choices = choices.split('\n')
    if expected_choices is None and choices:
        problems.append('%s: survey offers choices %s, the argument spec none' % (variable, choices))
    elif expected_choices is not None and sorted(choices or []) != sorted(expected_choices):
        problems.append('%s: survey choices %s, expected %s' % (variable, choices, expected_choices))

    if option.get('required'):
        if not question.get('required'):
            problems.append('%s: required in the argument spec, optional in the survey' % variable)
    elif 'default' not in option:
        problems.append('%s: the argument spec has no default to compare the survey with' % variable)
    elif question.get('default') != survey_answer(option):
        problems.append('%s: survey default %r, expected %r (argument spec default %r)'
                        % (variable, question.get('default'), survey_answer(option), option.get('default')))
    return problems


def test_every_phase_has_a_job_template_and_the_site_has_one():
    tags = [template['job_tags'] for template in job_templates()]
    assert sorted(tag for tag in tags if tag) == sorted(PHASES)
    assert '' in tags


@pytest.mark.parametrize('template', job_templates(), ids=lambda t: t['survey'])
def test_survey_is_a_valid_awx_survey_spec(template):
    survey = load_yaml(os.path.join(AWX_DIR, 'surveys', template['survey'] + '.yml'))
    assert survey['name'] and 'description' in survey
    assert survey['spec'], 'empty survey: %s' % template['survey']
    variables = [question['variable'] for question in survey['spec']]
    assert len(variables) == len(set(variables)), variables
    for question in survey['spec']:
        assert question['question_name'] and question['type'] in SURVEY_TYPES, question
        assert isinstance(question['required'], bool), question
        if question['type'] in ('multiplechoice', 'multiselect'):
            assert question['choices'], question
            # AWX keeps a multiselect default as one string, the picks separated by newlines
            defaults = question['default'].split('\n') if question['type'] == 'multiselect' else [question['default']]
            assert set(defaults) <= set(question['choices']), question
        if question['type'] in ('text', 'textarea'):
            # AWX versions differ in what a blank optional answer sends (nothing, "" or null)
            assert question['required'] and question['default'] != '', question
        if question['type'] == 'integer':
            assert isinstance(question['default'], int) and not isinstance(question['default'], bool), question


@pytest.mark.parametrize('template', job_templates(), ids=lambda t: t['survey'])
def test_survey_matches_the_argument_specs_of_its_roles(template):
    survey = load_yaml(os.path.join(AWX_DIR, 'surveys', template['survey'] + '.yml'))
    specs = {role: role_spec(role) for role in template['roles']}
    missing = sorted(role for role, spec in specs.items() if spec is None)
    if missing and len(missing) == len(specs):
        pytest.fail('no argument spec yet for %s' % missing)
    inventory_vars = inventory_variables()

    problems = []
    for question in survey['spec']:
        variable = question['variable']
        owners = [role for role, spec in specs.items() if spec and variable in spec]
        if not owners:
            problems.append('%s: in no argument spec of %s' % (variable, template['roles']))
            continue
        role = owners[0]
        problems.extend(question_problems(question, specs[role][variable]))

        default = role_defaults(role).get(variable)
        if isinstance(default, str) and '{{' in default:
            problems.append('%s: role default %r comes from the inventory; a survey answer would override it'
                            % (variable, default))
        elif variable in role_defaults(role) and default != specs[role][variable].get('default'):
            problems.append('%s: defaults/main.yml says %r, the argument spec %r'
                            % (variable, default, specs[role][variable].get('default')))
        if variable in inventory_vars:
            problems.append('%s: set by %s; a survey answer would override it'
                            % (variable, os.path.relpath(inventory_vars[variable], ROOT)))
    assert not problems, '\n'.join(problems)


def test_question_check_catches_each_kind_of_mismatch():
    option = {'type': 'int', 'default': 1}
    assert question_problems({'variable': 'x', 'type': 'integer', 'default': 1}, option) == []
    assert question_problems({'variable': 'x', 'type': 'text', 'default': 1}, option)
    assert question_problems({'variable': 'x', 'type': 'integer', 'default': 2}, option)

    flag = {'type': 'bool', 'default': False}
    good = {'variable': 'f', 'type': 'multiplechoice', 'choices': ['true', 'false'], 'default': 'false'}
    assert question_problems(good, flag) == []
    assert question_problems(dict(good, default='true'), flag)
    assert question_problems(dict(good, choices=['yes', 'no']), flag)

    picked = {'type': 'str', 'choices': ['a', 'b'], 'default': 'a'}
    assert question_problems({'variable': 'p', 'type': 'multiplechoice', 'choices': ['a', 'b'], 'default': 'a'},
                             picked) == []
    assert question_problems({'variable': 'p', 'type': 'multiplechoice', 'choices': ['a', 'c'], 'default': 'a'},
                             picked)
    assert question_problems({'variable': 'p', 'type': 'text', 'default': 'a'}, picked)
    assert question_problems({'variable': 'l', 'type': 'text', 'default': ''}, {'type': 'list', 'default': []})
    several = {'type': 'list', 'elements': 'str', 'choices': ['a', 'b'], 'default': ['a', 'b']}
    assert question_problems({'variable': 'm', 'type': 'multiselect', 'choices': ['a', 'b'], 'default': 'a\nb'},
                             several) == []
    assert question_problems({'variable': 'm', 'type': 'multiselect', 'choices': ['a', 'b'], 'default': 'a'},
                             several)
