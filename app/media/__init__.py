"""Media I/O with PyAV (and Pillow for stills): probe, decode, audio, encode, URL cache.

Nothing here knows about movie scripts or Qt; errors are `MediaError` values that say what is
wrong with which file.
"""
