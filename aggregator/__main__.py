from aggregator.cli import entry

entry()
