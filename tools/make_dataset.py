# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn OHLC bars (CSV) into the training Parquet file: five features and one label.

Input: any CSV of OHLC bars with a time column, for example the EURUSD hourly bars that the
``backtesting`` package ships (``--from-backtesting``), or an MetaTrader 5 export
(tab-separated, ``<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> ...``). Column names are matched
case-insensitively, angle brackets stripped; a time column is ``time``, ``datetime``,
``date`` (+ ``time``), ``timestamp`` or an unnamed first column.

Output columns, one row per bar t (all features use bars up to and including t only):
  time         bar open time (UTC, microseconds)
  ret_1        log(close[t] / close[t-1])
  ret_5        log(close[t] / close[t-5])
  range_hl     (high[t] - low[t]) / close[t]
  vol_10       sample standard deviation of ret_1 over bars t-9 .. t
  dist_sma_20  close[t] / mean(close[t-19 .. t]) - 1
  label        1 when close[t+1] > close[t], else 0 (the next bar's direction: the target)
Rows without a full 20-bar history, and the last bar (no next close), are dropped.

The file is written to a temporary name beside the output and renamed into place; when the
output already holds exactly the same table it is left untouched (exit 0, "unchanged").
"""

import argparse
import json
import os
import sys
import tempfile

FEATURES = ('ret_1', 'ret_5', 'range_hl', 'vol_10', 'dist_sma_20')
LABEL = 'label'
TIME_NAMES = ('time', 'datetime', 'timestamp', 'date')


class DatasetError(Exception):
    """The input cannot be turned into a dataset."""


def backtesting_csv():
    """Path of the EURUSD hourly bars shipped by the backtesting package."""
    try:
        import backtesting
    except ImportError:
        raise DatasetError('Failed to import backtesting: pip install backtesting, or pass --csv PATH')
    path = os.path.join(os.path.dirname(backtesting.__file__), 'test', 'EURUSD.csv')
    if not os.path.exists(path):
        raise DatasetError('Failed to find EURUSD.csv in the backtesting package: %s' % path)
    return path


def read_bars(path):
    """Read an OHLC CSV into a DataFrame with columns time, open, high, low, close (sorted, unique)."""
    import pandas as pd

    if not os.path.exists(path):
        raise DatasetError('Input CSV not found: %s' % path)
    with open(path, 'r', encoding='utf-8-sig') as handle:
        first = handle.readline()
    sep = '\t' if first.count('\t') > first.count(',') else ','
    try:
        frame = pd.read_csv(path, sep=sep)
    except Exception as exc:
        raise DatasetError('Failed to parse CSV %s: %s' % (path, exc))

    frame.columns = [str(c).strip().strip('<>').strip().lower() for c in frame.columns]
    if frame.columns[0] in ('', 'unnamed: 0'):
        frame = frame.rename(columns={frame.columns[0]: 'time'})
    if 'date' in frame.columns and 'time' in frame.columns:
        stamp = frame['date'].astype(str) + ' ' + frame['time'].astype(str)
    else:
        names = [n for n in TIME_NAMES if n in frame.columns]
        if not names:
            raise DatasetError('No time column in %s: found columns %s, expected one of %s or an unnamed first column'
                               % (path, list(frame.columns), list(TIME_NAMES)))
        stamp = frame[names[0]].astype(str)
    missing = [c for c in ('open', 'high', 'low', 'close') if c not in frame.columns]
    if missing:
        raise DatasetError('Missing OHLC columns in %s: %s (found %s)' % (path, missing, list(frame.columns)))

    try:
        times = pd.to_datetime(stamp.str.replace('.', '-', regex=False), utc=True)
    except Exception as exc:
        raise DatasetError('Failed to parse times in %s: %s (expected e.g. 2017-04-19 09:00:00)' % (path, exc))
    bars = pd.DataFrame({'time': times})
    for col in ('open', 'high', 'low', 'close'):
        bars[col] = pd.to_numeric(frame[col], errors='coerce')
    bad = bars[['open', 'high', 'low', 'close']].isna().any(axis=1)
    if bad.any():
        raise DatasetError('Non-numeric OHLC values in %s at data row %d' % (path, int(bad.idxmax()) + 1))
    if (bars[['open', 'high', 'low', 'close']] <= 0).any().any():
        raise DatasetError('Non-positive prices in %s: prices must be > 0' % path)
    if (bars['high'] < bars['low']).any():
        row = int((bars['high'] < bars['low']).idxmax()) + 1
        raise DatasetError('High below low in %s at data row %d' % (path, row))

    bars = bars.sort_values('time', kind='stable')
    if bars['time'].duplicated().any():
        dup = bars.loc[bars['time'].duplicated(), 'time'].iloc[0]
        raise DatasetError('Duplicate bar time in %s: %s' % (path, dup))
    return bars.reset_index(drop=True)


def build_features(bars):
    """Compute the five features and the label from sorted bars; drop incomplete rows."""
    import numpy as np
    import pandas as pd

    close = bars['close']
    log_close = np.log(close)
    out = pd.DataFrame({'time': bars['time'].dt.tz_convert('UTC').astype('datetime64[us, UTC]')})
    out['ret_1'] = log_close.diff(1)
    out['ret_5'] = log_close.diff(5)
    out['range_hl'] = (bars['high'] - bars['low']) / close
    out['vol_10'] = out['ret_1'].rolling(10, min_periods=10).std()
    out['dist_sma_20'] = close / close.rolling(20, min_periods=20).mean() - 1.0
    nxt = close.shift(-1)
    out[LABEL] = (nxt > close).astype('int8')
    out = out.iloc[:-1]
    out = out.dropna(subset=list(FEATURES)).reset_index(drop=True)
    if out.empty:
        raise DatasetError('Too few bars: at least 21 are needed for a 20-bar history plus a next bar, got %d'
                           % len(bars))
    return out


def to_table(frame, source):
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {b'mt5crs.source': os.path.basename(source).encode(),
            b'mt5crs.features': json.dumps(list(FEATURES)).encode(),
            b'mt5crs.label': LABEL.encode()}
    return table.replace_schema_metadata(meta)


def write_if_different(table, out_path):
    """Write table to out_path atomically unless the file already holds an equal table."""
    import pyarrow.parquet as pq

    if os.path.exists(out_path):
        try:
            current = pq.read_table(out_path)
            if current.equals(table) and current.schema.metadata == table.schema.metadata:
                return False
        except Exception:
            pass
    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(out_path), dir=out_dir)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression='zstd')
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description='Build the training Parquet file from OHLC bars.')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--csv', help='OHLC CSV (comma or tab separated; an MT5 export works)')
    src.add_argument('--from-backtesting', action='store_true',
                     help='use the EURUSD hourly bars shipped by the backtesting package')
    parser.add_argument('--out', required=True, help='Parquet file to write')
    args = parser.parse_args(argv)
    try:
        csv_path = backtesting_csv() if args.from_backtesting else args.csv
        frame = build_features(read_bars(csv_path))
        changed = write_if_different(to_table(frame, csv_path), args.out)
    except DatasetError as exc:
        print('make_dataset: %s' % exc, file=sys.stderr)
        return 2
    print(json.dumps({'changed': changed, 'path': os.path.abspath(args.out), 'rows': len(frame),
                      'columns': list(frame.columns), 'source': csv_path}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
