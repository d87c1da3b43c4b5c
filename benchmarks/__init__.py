"""pargen's benchmarks: synthetic template trees and the measurements run by scripts/bench."""
