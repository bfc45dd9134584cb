"""ONVIF: discovery, device probe, stream URIs, PullPoint motion events, PTZ, RTSP URL builders."""
