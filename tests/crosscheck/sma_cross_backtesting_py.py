"""Runs backtesting.py's classic SmaCross example on a candle CSV and prints its trades as JSON.

Used by the `sma_cross_matches_backtesting_py` test to check that Barwise's `sma_cross` plugin,
with fill = next_open, no fees, no slippage and shorts allowed, trades on the same bars at the same
prices as another engine. Usage: python3 sma_cross_backtesting_py.py FILE.csv FAST SLOW
"""

import json
import sys
import warnings

import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    fast = 10
    slow = 20

    def init(self):
        close = self.data.Close
        self.sma1 = self.I(sma, close, self.fast)
        self.sma2 = self.I(sma, close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def main():
    path, fast, slow = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    frame = pd.read_csv(path, parse_dates=["timestamp"]).set_index("timestamp")
    frame = frame.rename(columns=str.capitalize)
    warnings.simplefilter("ignore")
    # Cash large enough for whole units at any price; trades are compared by bar and price.
    bt = Backtest(frame, SmaCross, cash=1e12, commission=0.0, trade_on_close=False,
                  exclusive_orders=False, finalize_trades=True)
    stats = bt.run(fast=fast, slow=slow)
    trades = stats["_trades"].sort_values("EntryBar")
    out = [
        {
            "entry_index": int(t.EntryBar),
            "exit_index": int(t.ExitBar),
            "direction": "long" if t.Size > 0 else "short",
            "entry_price": float(t.EntryPrice),
            "exit_price": float(t.ExitPrice),
        }
        for t in trades.itertuples()
    ]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
