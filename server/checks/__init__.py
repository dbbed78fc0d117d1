"""Success checks: did a rollout do what the sentence asked, judged from physical state (docs/CHECKS.md)."""
