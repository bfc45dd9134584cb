"""RTSP capture: open streams with PyAV, copy packets into fMP4 segments, watch camera health."""
