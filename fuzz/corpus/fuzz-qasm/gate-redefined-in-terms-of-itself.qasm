OPENQASM 2.0;
qreg q[1];
gate h a { h a; }
gate h a { h a; }
h q[0];
