"""TaskHub's native stack and its operations tools: stack control (`taskhub-stack`), backup
and restore, the load generator and the fuzzing driver."""
