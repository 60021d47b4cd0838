"""NLP engine: normalisation, entities, intent, matching, emotion. Pure library."""
