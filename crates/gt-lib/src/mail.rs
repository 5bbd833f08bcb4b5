//! Mail between agents and humans (issue 4).
