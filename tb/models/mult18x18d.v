// Behavioural simulation model of the ECP5 sysDSP multiplier MULT18X18D, for nnrtl's
// benches (tb/test_dsp.py). Yosys ships only a black box of this primitive
// (share/ecp5/cells_bb.v); this model has the same ports and parameters. Written for the
// modes hdl/dsp.py uses, after the sysDSP register behaviour Lattice documents: TN1267
// ("ECP5 and ECP5-5G sysDSP Usage Guide"; as nnrtl's issue summarizes it, the document
// itself was not at hand): REG_INPUTA/B, REG_PIPELINE and REG_OUTPUT each add one
// cycle, enabled by CEn and cleared by RSTn; the sysDSP section of Lattice's data sheets
// (LatticeECP2/M): one of four CLK, CE and RST selected per register, sign extension
// for two's complement operands; and the behaviour of Lattice's ECP5U/M simulation
// library (MULT18X18D.v). tb/test_dsp.py `test_mult18x18d_model_timing` checks the
// model against those statements.
//
// Modelled:
//   - an 18 x 18 multiplier; SIGNEDA / SIGNEDB select two's complement (sign-extended)
//     or unsigned (zero-extended) operands, each on its own; P is the 36-bit product;
//   - the input registers A and B (REG_INPUTA_CLK, REG_INPUTB_CLK; SIGNEDA / SIGNEDB are
//     registered with their operand), the pipeline register (REG_PIPELINE_CLK) on the
//     product and the output register (REG_OUTPUT_CLK): each register is bypassed when its
//     _CLK parameter is "NONE", and otherwise adds one cycle, clocked by the selected CLKn
//     (rising edge), loaded only when the selected CEn is high, and cleared to zero at the
//     clock edge when the selected RSTn is high (RESETMODE = "SYNC"; RST wins over CE);
//   - ROA / ROB / ROC show the (registered) A, B and C inputs, SROA / SROB the same
//     (CAS_MATCH_REG = "FALSE"), SIGNEDP the product's signedness after the pipeline
//     register; SOURCEA / SOURCEB select the shift inputs SRIA / SRIB (SOURCEB_MODE =
//     "B_SHIFT");
//   - registers start at zero (as after the configuration's global reset).
// Not modelled (the simulation stops with $fatal if a parameter asks for them):
// RESETMODE = "ASYNC", MULT_BYPASS = "ENABLED", CAS_MATCH_REG = "TRUE", SOURCEB_MODE other
// than "B_SHIFT", HIGHSPEED_CLK other than "NONE". GSR (the global set/reset net) and the
// CLKn_DIV settings have no effect here; unconnected inputs read as 0 under Verilator.
// Timing is not modelled.

module nnrtl_mult18x18d_register #(
    parameter integer WIDTH = 1,
    parameter integer CLK = -1,     // -1: no register (bypassed)
    parameter integer CE = 0,
    parameter integer RST = 0
) (
    input  [3:0] clk,
    input  [3:0] ce,
    input  [3:0] rst,
    input  [WIDTH-1:0] d,
    output [WIDTH-1:0] q
);
    generate
        if (CLK < 0) begin : bypass
            assign q = d;
        end else begin : register
            reg [WIDTH-1:0] r = {WIDTH{1'b0}};
            always @(posedge clk[CLK]) begin
                if (rst[RST])
                    r <= {WIDTH{1'b0}};
                else if (ce[CE])
                    r <= d;
            end
            assign q = r;
        end
    endgenerate
endmodule

module MULT18X18D (
    input  A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input  B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input  C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input  SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input  CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
    input  SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
    input  SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
    output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
    output SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
    output ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
    output ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
    output ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
    output SIGNEDP
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    // "NONE" -> -1; "CLKn" / "CEn" / "RSTn" -> n; anything else -> -2 (rejected below).
    function integer select_index(input [63:0] name);
        begin
            if (name == "NONE") select_index = -1;
            else if (name == "CLK0" || name == "CE0" || name == "RST0") select_index = 0;
            else if (name == "CLK1" || name == "CE1" || name == "RST1") select_index = 1;
            else if (name == "CLK2" || name == "CE2" || name == "RST2") select_index = 2;
            else if (name == "CLK3" || name == "CE3" || name == "RST3") select_index = 3;
            else select_index = -2;
        end
    endfunction

    /* verilator lint_off WIDTHEXPAND */   // the parameters' strings are narrower
    localparam integer A_CLK = select_index(REG_INPUTA_CLK);
    localparam integer A_CE = select_index(REG_INPUTA_CE);
    localparam integer A_RST = select_index(REG_INPUTA_RST);
    localparam integer B_CLK = select_index(REG_INPUTB_CLK);
    localparam integer B_CE = select_index(REG_INPUTB_CE);
    localparam integer B_RST = select_index(REG_INPUTB_RST);
    localparam integer C_CLK = select_index(REG_INPUTC_CLK);
    localparam integer C_CE = select_index(REG_INPUTC_CE);
    localparam integer C_RST = select_index(REG_INPUTC_RST);
    localparam integer P_CLK = select_index(REG_PIPELINE_CLK);
    localparam integer P_CE = select_index(REG_PIPELINE_CE);
    localparam integer P_RST = select_index(REG_PIPELINE_RST);
    localparam integer O_CLK = select_index(REG_OUTPUT_CLK);
    localparam integer O_CE = select_index(REG_OUTPUT_CE);
    localparam integer O_RST = select_index(REG_OUTPUT_RST);
    /* verilator lint_on WIDTHEXPAND */

    initial begin
        if (RESETMODE != "SYNC")
            $fatal(1, "MULT18X18D model: RESETMODE = %0s is not modelled (only SYNC)", RESETMODE);
        if (MULT_BYPASS != "DISABLED")
            $fatal(1, "MULT18X18D model: MULT_BYPASS = %0s is not modelled", MULT_BYPASS);
        if (CAS_MATCH_REG != "FALSE")
            $fatal(1, "MULT18X18D model: CAS_MATCH_REG = %0s is not modelled", CAS_MATCH_REG);
        if (SOURCEB_MODE != "B_SHIFT")
            $fatal(1, "MULT18X18D model: SOURCEB_MODE = %0s is not modelled", SOURCEB_MODE);
        if (HIGHSPEED_CLK != "NONE")
            $fatal(1, "MULT18X18D model: HIGHSPEED_CLK = %0s is not modelled", HIGHSPEED_CLK);
        if (A_CLK < -1 || B_CLK < -1 || C_CLK < -1 || P_CLK < -1 || O_CLK < -1
            || A_CE < 0 || B_CE < 0 || C_CE < 0 || P_CE < 0 || O_CE < 0
            || A_RST < 0 || B_RST < 0 || C_RST < 0 || P_RST < 0 || O_RST < 0)
            $fatal(1, "MULT18X18D model: a REG_*_CLK/_CE/_RST parameter names no CLKn/CEn/RSTn");
    end

    wire [3:0] clk = {CLK3, CLK2, CLK1, CLK0};
    wire [3:0] ce = {CE3, CE2, CE1, CE0};
    wire [3:0] rst = {RST3, RST2, RST1, RST0};

    wire [17:0] a_in = SOURCEA ? {SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0} : {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b_in = SOURCEB ? {SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0} : {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    wire [17:0] c_in = {C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0};

    // Input registers: each operand with its signedness control.
    wire [17:0] a_q, b_q, c_q;
    wire signed_a, signed_b;
    nnrtl_mult18x18d_register #(.WIDTH(19), .CLK(A_CLK), .CE(A_CE), .RST(A_RST)) input_a (
        .clk(clk), .ce(ce), .rst(rst), .d({SIGNEDA, a_in}), .q({signed_a, a_q}));
    nnrtl_mult18x18d_register #(.WIDTH(19), .CLK(B_CLK), .CE(B_CE), .RST(B_RST)) input_b (
        .clk(clk), .ce(ce), .rst(rst), .d({SIGNEDB, b_in}), .q({signed_b, b_q}));
    nnrtl_mult18x18d_register #(.WIDTH(18), .CLK(C_CLK), .CE(C_CE), .RST(C_RST)) input_c (
        .clk(clk), .ce(ce), .rst(rst), .d(c_in), .q(c_q));

    // The multiplier: operands extended to 36 bits by their signedness, product modulo 2^36.
    wire [35:0] a_ext = {{18{signed_a & a_q[17]}}, a_q};
    wire [35:0] b_ext = {{18{signed_b & b_q[17]}}, b_q};
    wire [35:0] product = a_ext * b_ext;

    wire [35:0] product_q, p_out;
    wire signed_p;
    nnrtl_mult18x18d_register #(.WIDTH(37), .CLK(P_CLK), .CE(P_CE), .RST(P_RST)) pipeline (
        .clk(clk), .ce(ce), .rst(rst), .d({signed_a | signed_b, product}),
        .q({signed_p, product_q}));
    nnrtl_mult18x18d_register #(.WIDTH(36), .CLK(O_CLK), .CE(O_CE), .RST(O_RST)) output_p (
        .clk(clk), .ce(ce), .rst(rst), .d(product_q), .q(p_out));

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p_out;
    assign SIGNEDP = signed_p;
    assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = a_q;
    assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = b_q;
    assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = c_q;
    assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = a_q;
    assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = b_q;
endmodule
