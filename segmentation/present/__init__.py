"""Pure frames → words and plotly figures (digest, plotting). May import dynamics, engine and the leaves."""
