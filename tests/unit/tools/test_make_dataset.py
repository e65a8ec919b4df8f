# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dataset builder: real EURUSD bars in, five features and a label out, no look-ahead."""

import json
import math
import os

import pyarrow.parquet as pq
import pytest

import make_dataset


@pytest.fixture(scope='module')
def eurusd():
    return make_dataset.read_bars(make_dataset.backtesting_csv())


def test_real_bars_give_documented_columns_and_rows(eurusd):
    frame = make_dataset.build_features(eurusd)
    assert list(frame.columns) == ['time', 'ret_1', 'ret_5', 'range_hl', 'vol_10', 'dist_sma_20', 'label']
    assert len(eurusd) == 5000
    assert len(frame) == 4980
    assert not frame.isna().any().any()
    assert set(frame['label'].unique()) == {0, 1}


def test_feature_definitions_match_the_bars(eurusd):
    frame = make_dataset.build_features(eurusd).set_index('time')
    bars = eurusd.set_index('time')
    t = frame.index[100]
    pos = bars.index.get_loc(t)
    close = bars['close']
    assert frame.loc[t, 'ret_1'] == pytest.approx(math.log(close.iloc[pos] / close.iloc[pos - 1]))
    assert frame.loc[t, 'ret_5'] == pytest.approx(math.log(close.iloc[pos] / close.iloc[pos - 5]))
    assert frame.loc[t, 'dist_sma_20'] == pytest.approx(close.iloc[pos] / close.iloc[pos - 19:pos + 1].mean() - 1)
    assert frame.loc[t, 'label'] == int(close.iloc[pos + 1] > close.iloc[pos])


def test_features_do_not_look_ahead(eurusd):
    base = make_dataset.build_features(eurusd)
    cut = 3000
    altered = eurusd.copy()
    # Rewrite every bar after the cut: features up to the cut must not move.
    altered.loc[cut + 1:, ['open', 'high', 'low', 'close']] *= 1.5
    changed = make_dataset.build_features(altered)
    rows = base['time'] < eurusd['time'].iloc[cut]
    features = list(make_dataset.FEATURES)
    assert (base.loc[rows, features].values == changed.loc[rows, features].values).all()


def test_mt5_export_and_unchanged_rewrite(tmp_path, eurusd):
    lines = ['<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>']
    for row in eurusd.head(60).itertuples():
        lines.append('%s\t%s\t%s\t%s\t%s\t%s\t1' % (row.time.strftime('%Y.%m.%d'), row.time.strftime('%H:%M:%S'),
                                                    row.open, row.high, row.low, row.close))
    src = tmp_path / 'mt5.csv'
    src.write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'out' / 'ds.parquet'
    assert make_dataset.main(['--csv', str(src), '--out', str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 40
    before = os.stat(out).st_mtime_ns
    assert make_dataset.main(['--csv', str(src), '--out', str(out)]) == 0
    assert os.stat(out).st_mtime_ns == before
    assert json.loads(table.schema.metadata[b'mt5crs.features'].decode()) == list(make_dataset.FEATURES)


@pytest.mark.parametrize('content, message', [
    ('a,b\n1,2\n', 'No time column'),
    ('time,open,high,low\n2020-01-01,1,1,1\n', "Missing OHLC columns"),
    ('time,open,high,low,close\n2020-01-01,1,0.5,1,1\n', 'High below low'),
    ('time,open,high,low,close\n2020-01-01,1,1,1,x\n', 'Non-numeric'),
    ('time,open,high,low,close\n2020-01-01,1,1,1,1\n2020-01-01,1,1,1,1\n', 'Duplicate bar time'),
])
def test_bad_input_is_named_and_nothing_is_written(tmp_path, capsys, content, message):
    src = tmp_path / 'bad.csv'
    src.write_text(content)
    out = tmp_path / 'ds.parquet'
    assert make_dataset.main(['--csv', str(src), '--out', str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert os.listdir(tmp_path) == ['bad.csv']


def test_too_few_bars(tmp_path, capsys, eurusd):
    src = tmp_path / 'short.csv'
    eurusd.head(15).to_csv(src, index=False)
    assert make_dataset.main(['--csv', str(src), '--out', str(tmp_path / 'x.parquet')]) == 2
    assert 'Too few bars' in capsys.readouterr().err
