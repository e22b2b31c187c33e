OPENQASM 2.0;
include "qelib1.inc";
gate g(t) a,b { rz(t/2) a; cx a,b; u3(pi,0,-pi/4) b; }
qreg q[3];
creg c[3];
g(0.5) q[0],q[1];
barrier q;
measure q -> c;
