"""Motion detection (OpenCV on the substream), ONVIF motion events, and the events they make."""
