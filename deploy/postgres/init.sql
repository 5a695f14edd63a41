-- One database per service: no service can read another's tables.
CREATE DATABASE sbt_intake;
CREATE DATABASE sbt_recommendation;
CREATE DATABASE sbt_sanction;
CREATE DATABASE sbt_blocking;
CREATE DATABASE sbt_status;
CREATE DATABASE sbt_identity;
CREATE DATABASE sbt_notify;
