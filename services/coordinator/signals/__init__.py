"""Linkage signals: repeat infringers and seizure trends (pure rules), what they remember,
and the detector that raises them as warnings."""
