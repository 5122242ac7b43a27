"""Factor spaces, image sources and weak/intervention pair sampling."""
