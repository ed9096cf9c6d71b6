"""fwilab: a reproducible companion to four papers on learned full-waveform inversion."""
__version__ = "0.1.0"
