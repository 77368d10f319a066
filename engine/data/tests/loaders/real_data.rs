//! The project's real exchange data in `tests/data/` loads completely.

use std::path::Path;

use barwise_data::load_candles;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/");

fn load(name: &str) -> barwise_engine::Candles {
    let path = Path::new(DATA).join(name);
    load_candles(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn eth_btc_csv_and_btc_ccxt_json() {
    let eth = load("ETH_BTC-5m.csv");
    assert_eq!(eth.len(), 5_760);
    assert_eq!(eth.time_ms()[0], 1_515_560_100_000); // 2018-01-10T04:55:00Z
    assert_eq!(eth.open()[0], 0.0984);
    assert_eq!(eth.volume()[0], 1820.54447418);
    assert_eq!(eth.median_interval_ms(), Some(300_000));

    let btc = load("BTC-1m.ccxt.json");
    assert_eq!(btc.len(), 13_681);
    assert_eq!(btc.time_ms()[0], 1_509_836_520_000);
    assert_eq!(btc.volume()[0], 108.14853839);
    assert_eq!(btc.median_interval_ms(), Some(60_000));
}

#[test]
fn other_pairs() {
    assert_eq!(load("LTC_BTC-5m.csv").len(), 5_760);
    assert_eq!(load("ADA_BTC-5m.csv").len(), 5_720);
    assert_eq!(load("XRP_ETH-1m.csv").len(), 2_469);
}
