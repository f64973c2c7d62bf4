"""The offline playground: the demo, the world of forge + bot it runs in, and the server threads they use."""
